FROM python:3.11-slim
WORKDIR /app
COPY docker/requirements-report.txt /tmp/requirements.txt
RUN pip install --no-cache-dir -r /tmp/requirements.txt
COPY report.py .
CMD ["python", "report.py"]
