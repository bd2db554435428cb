import logging


def main():
    logging.info("serving")


if __name__ == "__main__":
    main()
