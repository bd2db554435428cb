"""Trains a (very) small model and traces the scoring step with MLflow."""

import mlflow


@mlflow.trace
def score(weights: list[float], features: list[float]) -> float:
    return sum(w * x for w, x in zip(weights, features))


def main() -> float:
    with mlflow.start_run(run_name="nightly"):
        weights = [0.5, 0.25]
        mlflow.log_params({"w0": weights[0], "w1": weights[1]})
        result = score(weights, [2.0, 4.0])
        mlflow.log_metric("score", result)
    return result


if __name__ == "__main__":
    print(main())
