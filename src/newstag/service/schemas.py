"""The service's request and response shapes, for the OpenAPI document.

The label endpoint parses its body itself (a bad article must not fail the
batch, see :mod:`~newstag.service.labelling`), so these models document
the contract and are checked by the tests against real responses; they
are not on the request path.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

EXAMPLE_ARTICLE: dict[str, Any] = {
    "id": "ansa-2024-0001",
    "title": "USA-Russia: nuovi colloqui tra i ministri degli esteri",
    "text": "Il segretario di Stato Blinken e il ministro Lavrov hanno discusso della crisi ucraina; la Turchia si offre come mediatrice.",
}


class ArticleIn(BaseModel):
    """One article: the fields of a JSON Lines input line. Other fields are ignored."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [EXAMPLE_ARTICLE]})

    id: str | int | None = Field(None, description="your identifier; default: request:<index>")
    title: str | None = None
    subtitle: str | None = None
    text: str | None = Field(None, description="the body; an article needs a title, a subtitle or a text")
    lang: str | None = None


class Prediction(BaseModel):
    label: str
    probability: float
    threshold: float


class LabelResult(BaseModel):
    """What ``newstag predict`` prints for the article (``source`` is ``request:<index>``)."""

    model_config = ConfigDict(extra="allow")

    id: str
    source: str
    topics: list[Prediction] | None = None
    actors: list[Prediction] | None = None
    scores: dict[str, dict[str, float]] | None = Field(None, description="with all_scores: every label's probability, per task")
    explanations: dict[str, dict[str, Any]] | None = Field(None, description="with explain=N: the evidence per task and label")
    models: dict[str, str]


class ArticleErrorOut(BaseModel):
    index: int | None = Field(None, description="the article's index in the body (from 0)")
    field: str | None = None
    message: str
    hint: str = ""


class LabelResponse(BaseModel):
    results: list[LabelResult]
    errors: list[ArticleErrorOut] = Field(description="articles that could not be labelled; the others are in results")
    models: dict[str, str] = Field(description="task -> the version that labelled this request")


class ErrorResponse(BaseModel):
    detail: str
    errors: list[ArticleErrorOut] = []


class ModelOut(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    task: str
    ref: str
    aliases: list[str]
    created_at: str | None = None
    sha256: str | None = None
    labels: list[str]
    thresholds: dict[str, float]
    test_metrics: dict[str, Any] = Field(description="the manifest's test-split summary (micro/macro F1...)")


class ModelsResponse(BaseModel):
    generation: int = Field(description="increases by one at every model swap")
    loaded_at: str
    models: list[ModelOut]


class ReloadResponse(BaseModel):
    generation: int
    models: dict[str, str]
    changed: dict[str, dict[str, str | None]]
    refused: dict[str, str]


class Status(BaseModel):
    status: str
    models: dict[str, str] = {}
