"""Model registry routes (DESIGN §2.6)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from weighbridge.api.deps import Resources, account_id, resources
from weighbridge.api.schemas import ModelListResponse, ModelResponse
from weighbridge.api.views import model_view
from weighbridge.services import registry

router = APIRouter(prefix="/api/public/models", tags=["models"])

Account = Annotated[str, Depends(account_id)]
Res = Annotated[Resources, Depends(resources)]


@router.get("")
def list_models(account: Account, res: Res,
                limit: Annotated[int, Query(ge=1, le=500)] = 50,
                offset: Annotated[int, Query(ge=0, le=10**9)] = 0) -> ModelListResponse:
    with res.database.transaction() as db:
        rows, total = registry.list_owned(db, account, limit, offset)
    return ModelListResponse(models=[model_view(r) for r in rows], total=total, limit=limit,
                             offset=offset)


@router.get("/{model_id}")
def get_model(model_id: str, account: Account, res: Res) -> ModelResponse:
    with res.database.transaction() as db:
        row = registry.get_owned(db, account, model_id)
    return model_view(row)
