#!/usr/bin/env python3
"""Keeps the CI role's policy (infra/terraform) and the binary's AWS calls the same.

Every .tf file must parse (python-hcl2). The actions the policy document `ci` allows (in its
statements, and in its `dynamic "statement"` blocks, which exist with an optional resource such
as the results table) must be exactly the ones the binary can cause:

- every AWS SDK operation called in src/ (`.run_task()`, …), found by matching the operation
  names of the SDK crates the build uses (from `cargo metadata`) against the source, so a new
  call is found without editing this file;
- plus what IAM checks on the side of some of those calls, each tied to a fact of the code:
  RunTask and RegisterTaskDefinition pass tags (ecs:TagResource on create) and the task
  definition's roles (iam:PassRole); pushing an image through the Docker engine to ECR
  (`push_image`) is the registry's layer and manifest API.

Run: .venv-infra/bin/python tests/infra/policy_sync.py (scripts/lint-infra.sh does).
"""

import json
import pathlib
import re
import subprocess
import sys

import hcl2

ROOT = pathlib.Path(__file__).resolve().parents[2]
SERVICES = {  # SDK crate -> IAM service prefix
    "aws-sdk-ecs": "ecs",
    "aws-sdk-ecr": "ecr",
    "aws-sdk-cloudwatchlogs": "logs",
    "aws-sdk-sts": "sts",
    "aws-sdk-dynamodb": "dynamodb",
    "aws-sdk-pricing": "pricing",
}
IMPLIED = {
    # RunTask with `tags` and RegisterTaskDefinition with `tags` need TagResource on create; both
    # hand the task definition's roles to ECS.
    "ecs:RunTask": {"ecs:TagResource", "iam:PassRole"},
    "ecs:RegisterTaskDefinition": {"ecs:TagResource", "iam:PassRole"},
}
# `docker push` to ECR, made by the engine with the token from GetAuthorizationToken: the
# registry API's layer checks and uploads, and the manifest (read, then written).
PUSH = {
    "ecr:BatchCheckLayerAvailability",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
    "ecr:BatchGetImage",
}


def pascal(snake):
    return "".join(part.capitalize() for part in snake.split("_"))


def sdk_operations():
    """operation name (snake_case) -> IAM service prefixes of the crates that have it."""
    metadata = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--locked"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    operations = {}
    for package in metadata["packages"]:
        prefix = SERVICES.get(package["name"])
        if prefix is None:
            continue
        folder = pathlib.Path(package["manifest_path"]).parent / "src" / "operation"
        for module in folder.iterdir():
            if module.suffix == ".rs" and module.stem != "mod":
                operations.setdefault(module.stem, set()).add(prefix)
    missing = set(SERVICES.values()) - {p for prefixes in operations.values() for p in prefixes}
    if missing:
        sys.exit(f"no operations found for {sorted(missing)}: is the SDK in Cargo.lock?")
    return operations


def called_actions():
    operations = sdk_operations()
    actions = set()
    source = "\n".join(path.read_text() for path in sorted((ROOT / "src").rglob("*.rs")))
    for name in set(re.findall(r"\.([a-z][a-z0-9_]*)\(\)", source)):
        prefixes = operations.get(name)
        if not prefixes:
            continue
        if len(prefixes) > 1:
            sys.exit(f"`.{name}()` is an operation of {sorted(prefixes)}: say which in this script")
        actions.add(f"{next(iter(prefixes))}:{pascal(name)}")
    for action in list(actions):
        actions |= IMPLIED.get(action, set())
    if re.search(r"\.push_image\(", source):
        actions |= PUSH
    return actions


def flatten(value):
    if isinstance(value, list):
        for item in value:
            yield from flatten(item)
    else:
        yield value


def policy_actions():
    documents = {}
    for path in sorted((ROOT / "infra" / "terraform").rglob("*.tf")):
        with path.open() as handle:
            try:
                parsed = hcl2.load(handle)
            except Exception as error:  # the message names the file
                sys.exit(f"{path.relative_to(ROOT)} does not parse: {error}")
        for block in parsed.get("data", []):
            for name, body in block.get("aws_iam_policy_document", {}).items():
                documents[name] = body
    if "ci" not in documents:
        sys.exit("infra/terraform has no data \"aws_iam_policy_document\" \"ci\"")
    # Statements that exist only with an optional resource are `dynamic "statement"` blocks.
    statements = list(flatten(documents["ci"].get("statement", [])))
    for dynamic in flatten(documents["ci"].get("dynamic", [])):
        for body in flatten(dynamic.get("statement", [])):
            statements.extend(flatten(body.get("content", [])))
    actions = set()
    for statement in statements:
        effect = next(flatten(statement.get("effect", ["Allow"])))
        if effect != "Allow":
            continue
        actions |= {action.strip('"') for action in flatten(statement.get("actions", []))}
    return actions


def main():
    called = called_actions()
    allowed = policy_actions()
    print(f"the binary's AWS actions ({len(called)}): {', '.join(sorted(called))}")
    print(f"the CI policy allows ({len(allowed)}): {', '.join(sorted(allowed))}")
    wildcards = sorted(action for action in allowed if "*" in action)
    missing = sorted(called - allowed)
    unused = sorted(allowed - called)
    if wildcards:
        print(f"the CI policy allows wildcard actions: {wildcards}")
    if missing:
        print(f"called but not allowed: {missing}")
    if unused:
        print(f"allowed but never called: {unused}")
    if wildcards or missing or unused:
        sys.exit(1)
    print("policy and code agree")


if __name__ == "__main__":
    main()
