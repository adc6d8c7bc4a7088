"""How the host reaches a board's server: the ``protocol:`` of an inventory entry.

TCP (:class:`NetworkProtocolConfig`), through an SSH tunnel or directly when exposed, or a
UART (:class:`SerialProtocolConfig`) with the host's and the board's ends of the line.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator


class NetworkProtocolConfig(BaseModel):
    """TCP between host and board.

    The server listens on the board's loopback and is reached through an SSH tunnel, unless
    ``expose`` is true: then it listens on every interface of the board (anyone on its network
    may connect; the run's secret still guards it), and ``tunnel`` says whether to relay it
    over SSH all the same.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["network"] = "network"
    port: int = Field(12345, strict=True, ge=1, le=65535, description="port the server listens on")
    expose: bool = Field(
        False, description="listen on every interface of the board, not only its loopback"
    )
    tunnel: Literal["auto", "always", "never"] = Field(
        "auto",
        description="with expose: auto goes through SSH only when the port cannot be "
        "reached directly; always: through SSH; never: direct only",
    )

    @field_validator("tunnel")
    @classmethod
    def _never_needs_expose(cls, value: str, info: ValidationInfo) -> str:
        if value == "never" and not info.data.get("expose"):
            raise ValueError(
                "`tunnel: never` needs `expose: true`: without it the server listens on the "
                "board's loopback only and is reached through SSH"
            )
        return value


class SerialProtocolConfig(BaseModel):
    """A UART between host and board."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["serial"] = "serial"
    device: str = Field(
        description="the host's end of the line: a device such as /dev/ttyUSB0, or a "
        "serial port served over TCP (ser2net) as socket://HOST:PORT or rfc2217://HOST:PORT"
    )
    board_device: str | None = Field(
        None,
        description="the board's end of the line, where kenning starts its inference_server "
        "(e.g. /dev/ttyS1, or a pseudo-terminal for a local board); needed by `invoke bench`",
    )
    baud: int = Field(115200, strict=True, gt=0)


ProtocolConfig = Annotated[
    NetworkProtocolConfig | SerialProtocolConfig, Field(discriminator="kind")
]
PROTOCOLS: dict[str, type[BaseModel]] = {
    "network": NetworkProtocolConfig,
    "serial": SerialProtocolConfig,
}
