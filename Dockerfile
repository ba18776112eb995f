# The ledger's image: the `bloodledger` command with its schemas.
FROM python:3.11-slim
# Pango for WeasyPrint (the reports' PDF) and a CJK font (Chinese in charts and PDFs).
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY ledger ./ledger
COPY projections ./projections
COPY simulator ./simulator
COPY schemas ./schemas
RUN pip install --no-cache-dir .
ENV BLOODLEDGER_SCHEMAS=/app/schemas \
    PYTHONUNBUFFERED=1
USER nobody
ENTRYPOINT ["bloodledger"]
CMD ["--help"]
