ARG PYTHON=3.9
FROM python:${PYTHON}-slim AS base
WORKDIR /srv
COPY requirements.txt .
RUN pip install -r requirements.txt

FROM node:20 AS assets
RUN echo building assets

FROM base AS runtime
COPY app ./app
