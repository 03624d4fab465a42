"""Reading template.yaml the way CloudFormation would, enough for the local stack.

The local stack creates the template's queues and buckets in moto and (as functions are added)
runs its functions, so that a resource added to the template appears locally with no other
edit. Only the intrinsic functions the template uses for names and environments are resolved,
with every parameter at its default (so conditions are those of a dev deploy).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.engine import make_url

LOCAL_ACCOUNT_ID = "123456789012"


@dataclass(frozen=True)
class Tag:
    """A CloudFormation short-form intrinsic such as `!Sub` or `!GetAtt`."""

    name: str
    value: Any


class _Loader(yaml.SafeLoader):
    pass


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Tag:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)
        value = loader.construct_mapping(node, deep=True)
    return Tag(suffix, value)


_Loader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path) -> dict[str, Any]:
    """Parse a SAM/CloudFormation template, keeping intrinsics as `Tag` values."""
    data: dict[str, Any] = yaml.load(path.read_text(), Loader=_Loader)
    return data


@dataclass(frozen=True)
class Resolver:
    """Resolves `!Sub`, `!Ref` and `Fn::` names against a local stack name and region."""

    template: dict[str, Any]
    stack_name: str
    region: str
    # What `!Ref X` returns for resources whose reference is not their name (a queue's URL).
    refs: Mapping[str, str] = field(default_factory=dict)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, Tag):
            return self._tag(value)
        if isinstance(value, dict):
            return {key: self.resolve(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        return value

    def _pseudo(self, name: str) -> str | None:
        return {
            "AWS::StackName": self.stack_name,
            "AWS::Region": self.region,
            "AWS::AccountId": LOCAL_ACCOUNT_ID,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::Partition": "aws",
        }.get(name)

    def _ref(self, name: str) -> Any:
        if name in self.refs:
            return self.refs[name]
        pseudo = self._pseudo(name)
        if pseudo is not None:
            return pseudo
        parameter = self.template.get("Parameters", {}).get(name)
        if parameter is not None:
            default = str(parameter.get("Default", ""))
            if parameter.get("Type") == "CommaDelimitedList":
                return default.split(",")
            return default
        resource = self.template.get("Resources", {}).get(name)
        if resource is not None:
            return str(self.physical_name(name))
        raise KeyError(f"cannot resolve !Ref {name}")

    def _tag(self, tag: Tag) -> Any:
        if tag.name == "Ref":
            return self._ref(tag.value)
        if tag.name == "Sub":
            text, extra = (tag.value, {}) if isinstance(tag.value, str) else tag.value
            return re.sub(
                r"\$\{([^}]+)\}",
                lambda m: (
                    str(self.resolve(extra[m.group(1)]))
                    if m.group(1) in extra
                    else self._sub_name(m.group(1))
                ),
                text,
            )
        if tag.name == "GetAtt":
            logical, attribute = (
                tag.value.split(".", 1) if isinstance(tag.value, str) else tag.value
            )
            return self.attribute(logical, attribute)
        if tag.name == "If":
            condition, when_true, when_false = tag.value
            return self.resolve(when_true if self.condition(condition) else when_false)
        if tag.name == "Join":
            separator, items = tag.value
            return str(separator).join(str(item) for item in self.resolve(items))
        if tag.name == "Select":
            index, items = tag.value
            return self.resolve(items)[int(self.resolve(index))]
        if tag.name == "Split":
            separator, text = tag.value
            return str(self.resolve(text)).split(separator)
        raise KeyError(f"unsupported intrinsic !{tag.name}")

    def condition(self, name: str) -> bool:
        """A condition of the template, with every parameter at its default."""
        return self._holds(self.template["Conditions"][name])

    def _holds(self, body: Any) -> bool:
        if not isinstance(body, Tag):
            raise KeyError(f"unsupported condition {body!r}")
        if body.name == "Equals":
            left, right = body.value
            return bool(self.resolve(left) == self.resolve(right))
        if body.name == "Not":
            return not self._holds(body.value[0])
        if body.name == "And":
            return all(self._holds(item) for item in body.value)
        if body.name == "Or":
            return any(self._holds(item) for item in body.value)
        if body.name == "Condition":
            return self.condition(body.value)
        raise KeyError(f"unsupported condition !{body.name}")

    def _sub_name(self, name: str) -> str:
        if "." in name:
            logical, attribute = name.split(".", 1)
            return str(self.attribute(logical, attribute))
        return str(self._ref(name))

    def physical_name(self, logical_id: str) -> str:
        """The name a resource gets: its explicit name property, else stack-logical id."""
        resource = self.template["Resources"][logical_id]
        props = resource.get("Properties", {})
        for key in ("QueueName", "BucketName", "Name", "TopicName", "FunctionName"):
            if key in props:
                return str(self.resolve(props[key]))
        return f"{self.stack_name}-{logical_id}"

    def attribute(self, logical_id: str, attribute: str) -> str:
        resource = self.template["Resources"][logical_id]
        name = self.physical_name(logical_id)
        if resource["Type"] == "AWS::SQS::Queue" and attribute == "Arn":
            return f"arn:aws:sqs:{self.region}:{LOCAL_ACCOUNT_ID}:{name}"
        if resource["Type"] == "AWS::SQS::Queue" and attribute == "QueueName":
            return name
        if resource["Type"] == "AWS::S3::Bucket" and attribute == "Arn":
            return f"arn:aws:s3:::{name}"
        return name

    def resources_of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            logical: resource
            for logical, resource in self.template.get("Resources", {}).items()
            if resource.get("Type") == resource_type
        }


_USERNAME_REFERENCE = re.compile(r"\{\{secret:\$\{(?P<secret>\w+)\}#username\}\}")


def database_login(template: Mapping[str, Any], value: Any) -> str | None:
    """The PostgreSQL user a template's database URL logs in as: the ``username`` its secret
    (``Database*LoginSecret``) is generated with; None when the value names no such secret.

    The local stack connects each component as this user (migration 0010 creates it; the
    local PostgreSQL trusts loopback connections), so a grant its code needs and its role
    lacks fails locally as in AWS.
    """
    text = value.value if isinstance(value, Tag) else value
    found = _USERNAME_REFERENCE.search(text) if isinstance(text, str) else None
    if found is None:
        return None
    secret = template["Resources"][found.group("secret")]["Properties"]
    document = json.loads(secret["GenerateSecretString"]["SecretStringTemplate"])
    return str(document["username"])


def table_server_login(template: Mapping[str, Any]) -> str | None:
    """The PostgreSQL user of the table servers (their task definition's DATABASE_URL)."""
    task = template["Resources"]["TableServerTaskDefinition"]["Properties"]
    (container,) = [c for c in task["ContainerDefinitions"] if c["Name"] == "table-server"]
    urls = [item["Value"] for item in container["Environment"] if item["Name"] == "DATABASE_URL"]
    return database_login(template, urls[0]) if urls else None


def as_login(database_url: str, user: str | None) -> str:
    """`database_url` logged in as `user` (no password: the local PostgreSQL trusts it)."""
    if user is None:
        return database_url
    return make_url(database_url).set(username=user, password=None).render_as_string(False)
