#!/bin/sh
set -e
exec mlflow ui --host 0.0.0.0 --port 5001 --backend-store-uri sqlite:////data/mlflow.db
