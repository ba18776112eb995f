# The ledger's image: the `bloodledger` command with its schemas.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY ledger ./ledger
COPY projections ./projections
COPY schemas ./schemas
RUN pip install --no-cache-dir .
ENV BLOODLEDGER_SCHEMAS=/app/schemas \
    PYTHONUNBUFFERED=1
USER nobody
ENTRYPOINT ["bloodledger"]
CMD ["--help"]
