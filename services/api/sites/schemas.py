"""Wire shapes of the sites endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Algorithm = Literal["HS256", "RS256", "ES256"]


class SiteCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    origins: list[str] = Field(min_length=1, max_length=20, description="scheme://host[:port] the widget runs on")
    groups: list[str] = Field(default=[], max_length=50, description="the most a user token of this site may grant")
    requests_per_minute: int | None = Field(default=None, ge=0, le=1_000_000, description="for the whole site")
    tokens_per_day: int | None = Field(default=None, ge=0, le=10_000_000_000, description="for the whole site")
    algorithm: Algorithm = Field(
        default="HS256", description="HS256: Steward generates a secret; RS256/ES256: give the site's public key"
    )
    public_key: str | None = Field(default=None, max_length=10_000, description="PEM, with RS256 or ES256")


class SiteUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    origins: list[str] | None = Field(default=None, min_length=1, max_length=20)
    groups: list[str] | None = Field(default=None, max_length=50)
    requests_per_minute: int | None = Field(default=None, ge=0, le=1_000_000)
    tokens_per_day: int | None = Field(default=None, ge=0, le=10_000_000_000)


class SiteRotate(BaseModel):
    public_key: str | None = Field(default=None, max_length=10_000, description="the new PEM key (RS256/ES256)")


class SiteOut(BaseModel):
    id: str = Field(description="the token's audience (aud) and the widget's data-site")
    name: str
    origins: list[str]
    groups: list[str]
    requests_per_minute: int | None
    tokens_per_day: int | None
    algorithm: str
    created_at: datetime
    secret_rotated_at: datetime | None


class SiteIssued(SiteOut):
    secret: str | None = Field(description="HS256: the signing secret, shown this once; Steward cannot show it again")


class SiteList(BaseModel):
    sites: list[SiteOut]
    total: int
    limit: int
    offset: int
