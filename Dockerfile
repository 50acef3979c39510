# One image for the whole project; the command picks what runs:
#   API:      (default) cd /app/orchestrator && python -m uvicorn main:app --host 0.0.0.0 --port 8000
#   worker:   docker run -w /app/orchestrator IMAGE python -m worker [--workflow-id ID]
#   service:  docker run -w /app/templates/concurrent -e PORT=8080 IMAGE python service.py
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY . .
RUN pip install --no-deps -e .

WORKDIR /app/orchestrator
EXPOSE 8000 8080
CMD ["python", "-m", "uvicorn", "main:app", "--host", "0.0.0.0", "--port", "8000"]
