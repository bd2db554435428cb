import logging

logging.basicConfig(level=logging.INFO)
logging.getLogger("report").info("done")
