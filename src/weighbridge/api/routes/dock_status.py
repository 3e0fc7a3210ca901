"""Job status route (DESIGN §2.4)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from weighbridge.api.deps import Resources, account_id, resources
from weighbridge.api.schemas import DockStatusResponse
from weighbridge.api.views import dock_status_view
from weighbridge.services import exports, jobs, registry

router = APIRouter(prefix="/api/public/dock-status", tags=["jobs"])


@router.get("/{dock_status_id}")
def dock_status(dock_status_id: str, account: Annotated[str, Depends(account_id)],
                res: Annotated[Resources, Depends(resources)], request: Request
                ) -> DockStatusResponse:
    with res.database.transaction() as db:
        job = jobs.get_owned(db, account, dock_status_id)
        model = registry.find(db, job.model_id) if job.status == jobs.JobStatus.SUCCESS else None
        tar = exports.describe(model) if model is not None and \
            job.action == jobs.Action.EXPORT else None
        return dock_status_view(job, model, tar, str(request.base_url))
