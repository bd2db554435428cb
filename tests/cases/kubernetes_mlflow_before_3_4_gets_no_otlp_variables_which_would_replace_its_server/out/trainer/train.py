import mlflow


@mlflow.trace
def score(x: float) -> float:
    return x * 2


if __name__ == "__main__":
    score(1.0)
