"""SLA API schemas: the policy as read back (the policy as written is
`muster.sla.policy.SlaPolicyDocument`, which the tenant's settings store as well)."""

from __future__ import annotations

from pydantic import Field

from muster.sla.policy import Policy, SlaPolicyDocument


class SlaPolicyRead(SlaPolicyDocument):
    """The tenant's effective policy, every severity spelled out."""

    default: bool = Field(description="true when the tenant has no policy of its own")

    @classmethod
    def of_policy(cls, policy: Policy) -> SlaPolicyRead:
        """The API view of an effective policy."""
        document = SlaPolicyDocument.of(policy)
        return cls(
            default=policy.is_default,
            at_risk_fraction=document.at_risk_fraction,
            targets=document.targets,
        )
