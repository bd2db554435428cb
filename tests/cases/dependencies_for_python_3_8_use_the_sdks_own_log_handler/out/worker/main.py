import logging

logging.getLogger(__name__).warning("working")
