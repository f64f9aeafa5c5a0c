from __future__ import annotations

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import SettingsConfigDict

from lrs_domain.formats import is_plausible_email
from lrs_platform.settings import Port, ServiceSettings, absolute_http_url_setting, one_line_setting
from notifier.emails import ServiceDesk


class NotifierSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFIER_", extra="ignore", frozen=True)

    port: Port = 8005
    smtp_host: str = "127.0.0.1"
    smtp_port: Port = 1025
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_timeout_seconds: float = Field(default=15.0, gt=0)
    smtp_message_timeout_seconds: float = Field(
        default=120.0,
        gt=0,
        description="how long the relay may take to accept an email, its answer to the end of DATA included (RFC"
        " 5321 allows 10 minutes); an email timed out there may have gone, and is sent again",
    )
    mail_from: str = "lrs-notifications@lrs.local"
    message_id_domain: str | None = Field(
        default=None,
        description="the domain of each email's Message-ID; default: NOTIFIER_MAIL_FROM's (a Message-ID of another"
        " domain than the sender's scores as spam with some filters)",
    )
    consumer_group: str = "notifier"
    retry_base_seconds: float = Field(default=0.5, gt=0)
    retry_max_seconds: float = Field(default=30.0, gt=0)
    # a recipient refused for now (a full mailbox): its email is tried again this long after, doubling
    recipient_retry_base_seconds: float = Field(default=60.0, gt=0)
    recipient_retry_max_seconds: float = Field(default=3600.0, gt=0)
    # each tick asks the database for the emails deferred: at least a tenth of a second, so a typo cannot spin it
    deferred_poll_seconds: float = Field(default=5.0, ge=0.1)
    reference_dir: str | None = Field(
        default=None,
        description="reference files (validation's): the register of AOs an operator may set a challenge contact"
        " for; default: the ones shipped in lrs_domain",
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8007",
        validation_alias=AliasChoices("NOTIFIER_PUBLIC_BASE_URL", "LRS_PORTAL_URL"),
        description="where AOs read a batch's results and answer challenges (the portal); emails link to it",
    )

    # The LRS service desk, named in every email (where to ask, whom to tell of an abandoned batch); its address is
    # the emails' Reply-To. None set: the emails name the portal's page on contacting it, and say replies are not read.
    service_desk_email: str | None = Field(default=None, description="the LRS service desk's email address")
    service_desk_phone: str | None = Field(default=None, description="its telephone number, as people dial it")
    service_desk_hours: str | None = Field(
        default=None, description="when it answers, as people read it: Monday to Friday, 9am to 5pm"
    )

    @property
    def service_desk(self) -> ServiceDesk:
        return ServiceDesk(
            self.service_desk_email,
            self.service_desk_phone,
            self.service_desk_hours,
            page=f"{self.public_base_url.rstrip('/')}/help/contact",
        )

    @property
    def message_ids_domain(self) -> str:
        return self.message_id_domain or self.mail_from.rpartition("@")[2].rstrip(">") or "lrs.local"

    @field_validator("public_base_url")
    @classmethod
    def _absolute(cls, value: str) -> str:
        return absolute_http_url_setting(value)  # the refusal line names the variable

    @field_validator("service_desk_email")
    @classmethod
    def _one_address(cls, value: str | None) -> str | None:
        """An address in ASCII: it is every email's Reply-To, which a relay without SMTPUTF8 could not take."""
        address = (value or "").strip()
        if not address:
            return None
        if not address.isascii() or not is_plausible_email(address):
            raise ValueError(
                "NOTIFIER_SERVICE_DESK_EMAIL must be one email address in ASCII, like lrs-desk@example.org"
            )
        return address

    @field_validator("service_desk_phone", "service_desk_hours")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        return one_line_setting(value)
