import sys
import time


def main() -> None:
    every = int(sys.argv[2]) if len(sys.argv) > 2 else 60
    while True:
        print("tick", flush=True)
        time.sleep(every)


if __name__ == "__main__":
    main()
