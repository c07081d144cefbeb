"""One case at a time: open, act, step and save with its projections; who may act; attachments; evidence; read views."""
