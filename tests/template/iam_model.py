"""template.yaml as CloudFormation receives it, and enough of IAM to ask what a role may do.

`expand()` runs aws-sam-translator (the library `sam deploy` uses) over the template, so the
roles checked are the ones SAM generates, policy templates and event-source policies
included. `Stack` then evaluates the expanded template for one set of parameter values
(conditions, `Fn::If`, `Fn::Sub`, ...) with made-up but realistic physical ids: a secret's ARN
ends in the random suffix Secrets Manager adds, a queue's `Ref` is its URL.

`Role.allows()` is a small IAM evaluator: Allow statements with wildcard actions and
resources, `Deny` first, and the `StringEquals`/`StringLike`/`Bool` conditions the template
uses, checked against the request's context (a condition on a key the request does not
carry does not match, as in IAM).
"""

from __future__ import annotations

import copy
import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

from devstack.template import Tag, load_template

REGION = "ap-northeast-2"
ACCOUNT = "123456789012"
STACK = "holdem-prod"
SECRET_SUFFIX = "-AbC123"

# The AWS-managed policies SAM attaches, as AWS publishes them (only the statements; every
# one is Resource "*", which is why each is listed with its reason in test_iam.py).
MANAGED_POLICIES: dict[str, list[dict[str, Any]]] = {
    "service-role/AWSLambdaBasicExecutionRole": [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "*",
        }
    ],
    "service-role/AWSLambdaVPCAccessExecutionRole": [
        {
            "Effect": "Allow",
            "Action": [
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "ec2:CreateNetworkInterface",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSubnets",
                "ec2:DeleteNetworkInterface",
                "ec2:AssignPrivateIpAddresses",
                "ec2:UnassignPrivateIpAddresses",
            ],
            "Resource": "*",
        }
    ],
    "AWSXrayWriteOnlyAccess": [
        {
            "Effect": "Allow",
            "Action": [
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
                "xray:GetSamplingStatisticSummaries",
            ],
            "Resource": "*",
        }
    ],
    "service-role/AWSLambdaSQSQueueExecutionRole": [
        {
            "Effect": "Allow",
            "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
            "Resource": "*",
        },
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "*",
        },
    ],
    "service-role/AmazonECSTaskExecutionRolePolicy": [
        {
            "Effect": "Allow",
            "Action": [
                "ecr:GetAuthorizationToken",
                "ecr:BatchCheckLayerAvailability",
                "ecr:GetDownloadUrlForLayer",
                "ecr:BatchGetImage",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
            ],
            "Resource": "*",
        }
    ],
}


def _long_form(value: Any) -> Any:
    """Short-form intrinsics (`!Sub`) as the JSON CloudFormation and SAM read (`Fn::Sub`)."""
    if isinstance(value, Tag):
        inner = _long_form(value.value)
        if value.name == "Ref":
            return {"Ref": inner}
        if value.name == "GetAtt" and isinstance(inner, str):
            return {"Fn::GetAtt": inner.split(".", 1)}
        if value.name == "Condition":
            return {"Condition": inner}
        return {f"Fn::{value.name}": inner}
    if isinstance(value, dict):
        return {key: _long_form(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_long_form(item) for item in value]
    return value


def expand(path: Path, parameters: dict[str, str]) -> dict[str, Any]:
    """The template after the SAM transform, for these parameter values.

    Code locations become S3 URIs first, as `sam package` makes them before the transform.
    """
    template = _long_form(load_template(path))
    template.get("Globals", {}).get("Function", {})["CodeUri"] = "s3://artifacts/code.zip"
    for resource in template["Resources"].values():
        for key in ("CodeUri", "ContentUri"):
            if key in resource.get("Properties", {}):
                resource["Properties"][key] = "s3://artifacts/code.zip"
    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=REGION))
    expanded: dict[str, Any] = translator.translate(
        copy.deepcopy(template),
        parameter_values=dict(parameters),
        get_managed_policy_map=lambda: {},
    )
    return expanded


class UnresolvableError(KeyError):
    """An intrinsic this model does not evaluate."""


@dataclass
class Stack:
    """An expanded template evaluated for one set of parameter values."""

    template: dict[str, Any]
    parameters: dict[str, str]

    def __post_init__(self) -> None:
        declared = self.template.get("Parameters", {})
        self.values: dict[str, Any] = {
            name: self.parameters.get(name, str(spec.get("Default", "")))
            for name, spec in declared.items()
        }
        for name, spec in declared.items():
            if spec.get("Type") == "CommaDelimitedList":
                text = self.values[name]
                self.values[name] = text.split(",") if text else [""]
        self.values.update(
            {
                "AWS::Region": REGION,
                "AWS::AccountId": ACCOUNT,
                "AWS::StackName": STACK,
                "AWS::Partition": "aws",
                "AWS::URLSuffix": "amazonaws.com",
            }
        )
        self.conditions = {
            name: self._condition(body)
            for name, body in self.template.get("Conditions", {}).items()
        }

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        """The resources that exist for these parameters (conditions applied)."""
        return {
            name: resource
            for name, resource in self.template["Resources"].items()
            if self.conditions.get(resource.get("Condition", ""), True)
        }

    def _condition(self, body: Any) -> bool:
        if isinstance(body, dict) and "Condition" in body:
            return self._condition(self.template["Conditions"][body["Condition"]])
        (name, args), *_ = body.items()
        if name == "Fn::Equals":
            return bool(self.resolve(args[0]) == self.resolve(args[1]))
        if name == "Fn::Not":
            return not self._condition(args[0])
        if name == "Fn::And":
            return all(self._condition(a) for a in args)
        if name == "Fn::Or":
            return any(self._condition(a) for a in args)
        raise UnresolvableError(name)

    # ----- physical ids ---------------------------------------------------------------------
    def _name_property(self, logical: str) -> str | None:
        props = self.template["Resources"][logical].get("Properties", {})
        for key in ("QueueName", "BucketName", "Name", "TopicName", "FunctionName", "RoleName"):
            if key in props:
                return str(self.resolve(props[key]))
        return None

    def ref(self, logical: str) -> Any:
        if logical in self.values:
            return self.values[logical]
        resource = self.template["Resources"][logical]
        kind = resource["Type"]
        name = self._name_property(logical) or f"{STACK}-{logical}"
        if kind == "AWS::SecretsManager::Secret":
            return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}{SECRET_SUFFIX}"
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"
        if kind == "AWS::SNS::Topic":
            return f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"
        return name

    def get_att(self, logical: str, attribute: str) -> str:
        kind = self.template["Resources"][logical]["Type"]
        name = self._name_property(logical) or f"{STACK}-{logical}"
        if kind == "AWS::SQS::Queue":
            return {"Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}", "QueueName": name}[attribute]
        if kind == "AWS::S3::Bucket" and attribute == "Arn":
            return f"arn:aws:s3:::{name}"
        if kind == "AWS::IAM::Role" and attribute == "Arn":
            return f"arn:aws:iam::{ACCOUNT}:role/{name}"
        if kind == "AWS::Lambda::Function" and attribute == "Arn":
            return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
        return f"{name}.{attribute}"

    def resolve(self, value: Any) -> Any:
        """A value with its intrinsics evaluated (`AWS::NoValue` becomes None)."""
        if isinstance(value, list):
            return [r for r in (self.resolve(v) for v in value) if r is not None]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {k: r for k, v in value.items() if (r := self.resolve(v)) is not None}
        (name, args), *_ = value.items()
        if name == "Ref":
            return None if args == "AWS::NoValue" else self.ref(args)
        if name == "Fn::GetAtt":
            logical, attribute = args if isinstance(args, list) else args.split(".", 1)
            return self.get_att(logical, attribute)
        if name == "Fn::Sub":
            text, variables = (args, {}) if isinstance(args, str) else args
            return self._sub(text, {k: self.resolve(v) for k, v in variables.items()})
        if name == "Fn::Join":
            return str(args[0]).join(str(x) for x in self.resolve(args[1]))
        if name == "Fn::Select":
            return self.resolve(args[1])[int(self.resolve(args[0]))]
        if name == "Fn::Split":
            return str(self.resolve(args[1])).split(args[0])
        if name == "Fn::If":
            return self.resolve(args[1] if self.conditions[args[0]] else args[2])
        if name == "Fn::FindInMap":
            table, key, attribute = (self.resolve(a) for a in args)
            return self.template["Mappings"][table][key][attribute]
        if name.startswith("Fn::"):
            raise UnresolvableError(name)
        return {name: self.resolve(args)}

    def _sub(self, text: str, variables: dict[str, Any]) -> str:
        out, rest = [], text
        while "${" in rest:
            before, _, after = rest.partition("${")
            inner, _, rest = after.partition("}")
            out.append(before)
            if inner.startswith("!"):
                out.append("${" + inner[1:] + "}")
            elif inner in variables:
                out.append(str(variables[inner]))
            elif "." in inner:
                out.append(self.get_att(*inner.split(".", 1)))
            else:
                out.append(str(self.ref(inner)))
        return "".join(out) + rest

    # ----- roles ----------------------------------------------------------------------------
    def role(self, logical: str) -> Role:
        """The role's statements: inline policies, then the managed ones it attaches."""
        props = self.resolve(self.template["Resources"][logical]["Properties"])
        statements: list[Statement] = []
        for policy in props.get("Policies", []):
            for raw in _as_list(policy["PolicyDocument"]["Statement"]):
                statements.append(Statement.parse(raw, policy["PolicyName"]))
        for arn in props.get("ManagedPolicyArns", []):
            name = str(arn).split(":policy/", 1)[1]
            if name not in MANAGED_POLICIES:
                raise UnresolvableError(f"{logical}: unknown managed policy {name}")
            statements += [
                Statement.parse(raw, name, managed=True) for raw in MANAGED_POLICIES[name]
            ]
        return Role(logical, statements)

    def function_role(self, function: str) -> str:
        """The logical id of a Lambda function's execution role."""
        role = self.template["Resources"][function]["Properties"]["Role"]
        return str(role["Fn::GetAtt"][0])


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _matches(pattern: str, value: str, *, fold_case: bool = False) -> bool:
    if fold_case:
        pattern, value = pattern.lower(), value.lower()
    # IAM wildcards: * and ? only (fnmatch's [...] classes never appear in policies).
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


@dataclass(frozen=True)
class Statement:
    """One IAM statement, its intrinsics resolved."""

    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: dict[str, dict[str, Any]]
    source: str
    managed: bool = False
    not_resources: tuple[str, ...] = ()

    @classmethod
    def parse(cls, raw: dict[str, Any], source: str, *, managed: bool = False) -> Statement:
        if "NotAction" in raw:
            raise UnresolvableError(f"{source}: NotAction is not modelled")
        return cls(
            raw["Effect"],
            tuple(str(a) for a in _as_list(raw["Action"])),
            tuple(str(r) for r in _as_list(raw.get("Resource", []))),
            raw.get("Condition", {}),
            source,
            managed,
            tuple(str(r) for r in _as_list(raw.get("NotResource", []))),
        )

    def covers(self, action: str, resource: str, context: dict[str, str]) -> bool:
        return (
            any(_matches(a, action, fold_case=True) for a in self.actions)
            and (
                any(_matches(r, resource) for r in self.resources)
                if not self.not_resources
                else not any(_matches(r, resource) for r in self.not_resources)
            )
            and self._conditions_hold(context)
        )

    def _conditions_hold(self, context: dict[str, str]) -> bool:
        for operator, tests in self.conditions.items():
            for key, wanted in tests.items():
                if key not in context:
                    return False
                value = context[key]
                options = [str(w) for w in _as_list(wanted)]
                if operator in ("StringEquals", "Bool"):
                    ok = value in options
                elif operator == "StringLike":
                    ok = any(_matches(w, value) for w in options)
                else:
                    raise UnresolvableError(f"{self.source}: condition {operator}")
                if not ok:
                    return False
        return True


@dataclass
class Role:
    """What one IAM role may do."""

    logical_id: str
    statements: list[Statement] = field(default_factory=list)

    def allows(self, action: str, resource: str, context: dict[str, str] | None = None) -> bool:
        context = context or {}
        if any(s.effect == "Deny" and s.covers(action, resource, context) for s in self.statements):
            return False
        return any(
            s.effect == "Allow" and s.covers(action, resource, context) for s in self.statements
        )

    def wildcard_statements(self) -> list[Statement]:
        """Allow statements whose resource is "*"."""
        return [s for s in self.statements if s.effect == "Allow" and "*" in s.resources]
