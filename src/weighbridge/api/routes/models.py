"""Model registry routes (DESIGN §2.6): list, show, delete, export and its download."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import StreamingResponse

from weighbridge.api.byte_ranges import ranged_response, requested_range
from weighbridge.api.deps import Resources, account_id, resources
from weighbridge.api.schemas import DockStatusResponse, ModelListResponse, ModelResponse
from weighbridge.api.views import dock_status_view, model_view
from weighbridge.services import exports, jobs, registry

router = APIRouter(prefix="/api/public", tags=["models"])

Account = Annotated[str, Depends(account_id)]
Res = Annotated[Resources, Depends(resources)]


@router.get("/models")
def list_models(
    account: Account, res: Res,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    name: Annotated[str | None, Query(max_length=255, pattern=r"^[^\x00-\x1f\x7f]*$",
                                      description="name contains")] = None,
    isAdapter: Annotated[bool | None, Query()] = None,
    format: Annotated[Literal["safetensors", "pytorch", "gguf"] | None, Query()] = None,
    status: Annotated[Literal["READY", "DELETING"] | None, Query()] = None,
) -> ModelListResponse:
    with res.database.transaction() as db:
        rows, total = registry.list_owned(db, account, limit, offset, name_contains=name,
                                          is_adapter=isAdapter, format=format, status=status)
        body = [model_view(r) for r in rows]
    return ModelListResponse(models=body, total=total, limit=limit, offset=offset)


@router.get("/models/{model_id}")
def get_model(model_id: str, account: Account, res: Res) -> ModelResponse:
    with res.database.transaction() as db:
        return model_view(registry.get_owned(db, account, model_id))


@router.delete("/models/{model_id}")
def delete_model(model_id: str, account: Account, res: Res, request: Request
                 ) -> DockStatusResponse:
    with res.database.transaction() as db:
        registry.mark_deleting(db, account, model_id)
        job = jobs.create_for_model(db, account, model_id, jobs.Action.DELETE)
    res.runner.wake()
    return dock_status_view(job, None, None, str(request.base_url))


@router.post("/models/{model_id}/export")
def export_model(model_id: str, account: Account, res: Res, request: Request
                 ) -> DockStatusResponse:
    with res.database.transaction() as db:
        job = exports.request(db, account, model_id)
    res.runner.wake()
    return dock_status_view(job, None, None, str(request.base_url))


@router.get("/exports/{dock_status_id}/download")
def download_export(dock_status_id: str, account: Account, res: Res, request: Request
                    ) -> StreamingResponse:
    with res.database.transaction() as db:
        tar = exports.for_download(db, account, dock_status_id)
    rng = requested_range(request, tar.size, tar.etag)
    return ranged_response(exports.stream(res.store, tar, rng.start, rng.length), rng,
                           tar.size, tar.etag, tar.file_name, "application/x-tar")
