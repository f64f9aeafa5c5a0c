from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, AliasChoices, Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from lrs_platform.settings import (
    Port,
    ServiceSettings,
    ServiceUrl,
    absolute_http_url_setting,
    check_sandpit_database,
    one_line_setting,
)
from portal.accounts import InvalidAccount, checked_email


def _service_url(name: str, port: int) -> str:
    return Field(
        default=f"http://127.0.0.1:{port}",
        validation_alias=AliasChoices(f"PORTAL_{name}_URL", f"LRS_{name}_URL"),
    )


def _sandpit_url(name: str) -> str | None:
    return Field(default=None, validation_alias=AliasChoices(f"PORTAL_SANDPIT_{name}_URL", f"LRS_SANDPIT_{name}_URL"))


class PortalSettings(ServiceSettings):
    """The portal talks to the services over HTTP only: their URLs are `LRS_<SERVICE>_URL`, as for the CLI."""

    model_config = SettingsConfigDict(env_prefix="PORTAL_", extra="ignore", frozen=True)

    port: Port = 8007
    # each refused as the portal starts unless an absolute http(s) URL (ServiceUrl), naming its variable
    ingest_url: ServiceUrl = _service_url("INGEST", 8001)
    plr_projector_url: ServiceUrl = _service_url("PLR_PROJECTOR", 8003)
    challenges_url: ServiceUrl = _service_url("CHALLENGES", 8004)
    notifier_url: ServiceUrl = _service_url("NOTIFIER", 8005)
    reporting_url: ServiceUrl = _service_url("REPORTING", 8006)
    validation_url: ServiceUrl = _service_url("VALIDATION", 8002)
    # where learners' records are read (the PLR's readers); unset: from plr_projector_url, as under `make up`
    plr_reader_url: ServiceUrl | None = Field(
        default=None, validation_alias=AliasChoices("PORTAL_PLR_READER_URL", "LRS_PLR_READER_URL")
    )
    service_timeout_seconds: float = Field(default=30.0, gt=0)
    submit_timeout_seconds: float = Field(
        default=55.0,
        gt=0,
        description="how long a batch's submit waits for ingest: above ingest's own bound for a publish in progress"
        " (INGEST_PUBLISH_TIMEOUT_SECONDS 30 plus INGEST_ROW_LOCK_TIMEOUT_SECONDS 10) plus the file's reading and"
        " storing before it, so that a Kafka away is said by ingest's own 503, which names the batch, and not by the"
        " portal giving up; below ingress-nginx's proxy read timeout (60 s)",
    )

    # The Sandpit (decision 0060): its services, and its database, where the portal issues each person's
    # sandpit key as it issues their live one in DATABASE_URL. Without all three, the portal has no Sandpit.
    # checked to be plainly the Sandpit's: a live database here would let a person's Sandpit key, issued in
    # it, work on live
    sandpit_database_url: Annotated[str, AfterValidator(check_sandpit_database)] | None = None
    sandpit_ingest_url: ServiceUrl | None = _sandpit_url("INGEST")
    sandpit_plr_projector_url: ServiceUrl | None = _sandpit_url("PLR_PROJECTOR")

    cookie_secure: bool = Field(default=True, description="false only for local http; https sets Secure cookies")
    session_idle_minutes: int = Field(default=30, ge=1)
    session_absolute_hours: int = Field(default=12, ge=1)
    lockout_failures: int = Field(default=5, ge=1, description="consecutive failed sign-ins that lock an account")
    lockout_minutes: int = Field(default=15, ge=1)
    reference_dir: str | None = Field(
        default=None,
        description="reference files (validation's): the catalogue for the offline checks and the register of"
        " AOs that accounts and AO keys are made for; default: the ones shipped in lrs_domain",
    )
    records_page_size: int = Field(default=50, ge=10, le=500)

    # Links by email for forgotten passwords (decision 0128): only with a mail relay and the portal's public
    # address (the links point there; never taken from a request's Host header, which its sender chooses).
    public_url: str | None = Field(
        default=None,
        description="the portal's address as people reach it (https://...); links in emails point there",
    )
    smtp_host: str | None = Field(default=None, description="the mail relay; without it no reset links are sent")
    smtp_port: Port = 25
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_timeout_seconds: float = Field(default=15.0, gt=0)
    smtp_message_timeout_seconds: float = Field(
        default=15.0,
        gt=0,
        description="how long the relay may take to accept an email; an operator waits, and an email gets"
        " PORTAL_SMTP_TIMEOUT_SECONDS in all anyway",
    )
    mail_from: str = "lrs-portal@lrs.local"
    reset_link_minutes: int = Field(default=30, ge=5, le=24 * 60)
    reset_links_per_hour: int = Field(default=3, ge=1, le=20, description="at most, per account")
    reset_link_requests_per_client_per_hour: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="forgotten-password requests at most, per client address (an IPv6 one's /64): beyond them the"
        " page answers as ever and sends nothing (decision 0148)",
    )
    first_link_hours: int = Field(
        default=72, ge=1, le=14 * 24, description="how long a new account's link to choose its password works"
    )

    # The LRS service desk, on the "Contact the LRS service desk" page that every page's footer links to, and that the
    # messages sending people to an operator name. None set: the page says to ask whoever gave them their account.
    support_email: str | None = Field(default=None, description="the LRS service desk's email address")
    support_phone: str | None = Field(default=None, description="its telephone number, as people dial it")
    support_hours: str | None = Field(
        default=None, description="when it answers, as people read it: Monday to Friday, 9am to 5pm"
    )

    @field_validator("public_url")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        return None if value is None else absolute_http_url_setting(value)

    @field_validator("support_email")
    @classmethod
    def _one_address(cls, value: str | None) -> str | None:
        try:
            return checked_email(value)
        except InvalidAccount:
            raise ValueError("PORTAL_SUPPORT_EMAIL must be one email address, like lrs-desk@example.org") from None

    @field_validator("support_phone", "support_hours")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        return one_line_setting(value)

    @model_validator(mode="after")
    def _links_over_https(self) -> PortalSettings:
        """A link in an email carries a token that sets a password: over https, wherever cookies are secure."""
        if self.cookie_secure and self.public_url and not self.public_url.startswith("https://"):
            raise ValueError("PORTAL_PUBLIC_URL must be https:// (PORTAL_COOKIE_SECURE=false only for local http)")
        return self

    @property
    def sends_reset_links(self) -> bool:
        return bool(self.smtp_host and self.public_url)

    @property
    def has_sandpit(self) -> bool:
        return bool(self.sandpit_database_url and self.sandpit_ingest_url and self.sandpit_plr_projector_url)
