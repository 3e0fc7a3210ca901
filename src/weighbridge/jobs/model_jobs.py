"""The EXPORT and DELETE jobs of a model (IMPORT lives in import_job.py)."""

from __future__ import annotations

from weighbridge.errors import ErrorCode, WeighbridgeError
from weighbridge.jobs.context import JobContext, LeaseLost
from weighbridge.services import exports, jobs, registry


def run_export(ctx: JobContext) -> None:
    """Check every object is there, so the download link works once SUCCESS is shown."""
    with ctx.database.transaction() as db:
        model = registry.find(db, ctx.job.model_id)
    if model is None or model.status != registry.READY:
        raise WeighbridgeError(ErrorCode.NOT_FOUND, f"Model {ctx.job.model_id} was deleted; "
                               "there is nothing to export.")
    ctx.progress("VERIFYING", 0.0, force=True)
    exports.check_objects(ctx.store, model)
    with ctx.database.transaction() as db:
        if not jobs.finish(db, ctx.job.id, ctx.owner):
            raise LeaseLost(ctx.job.id)


def run_delete(ctx: JobContext) -> None:
    ctx.progress("DELETING", 0.0, force=True)
    with ctx.database.transaction() as db:
        registry.delete(db, ctx.store, ctx.job.model_id)
        if not jobs.finish(db, ctx.job.id, ctx.owner):
            raise LeaseLost(ctx.job.id)
