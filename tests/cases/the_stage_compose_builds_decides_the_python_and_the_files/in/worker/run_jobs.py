import logging

logging.basicConfig(level=logging.INFO)
logging.getLogger(__name__).info("working")
