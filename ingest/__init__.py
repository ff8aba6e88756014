"""News in: fetch → parse → clean → dedupe → store, one module per step."""
