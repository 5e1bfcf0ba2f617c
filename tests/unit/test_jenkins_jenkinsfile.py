"""The declarative Jenkinsfile: parsed with a Groovy 3 grammar, then its stages walked in order.

No Jenkins runs here, so this checks syntax and structure (stage order, commands, exit-code
handling, agents, credentials), not the declarative validator's semantics.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from tests.services import require

from trainchain.jenkins import make_options
from trainchain.jenkins.jenkinsfile import render_jenkinsfile

STAGES = ["fetch", "detect", "train", "tune", "promote", "monitor"]
FULL = make_options(
    "git@github.com:team/model.git",
    credentials_id="deploy-key",
    label="linux",
    docker_label="docker",
    db_url_credentials_id="tc-db",
)
MINIMAL = make_options("https://github.com/team/model", poll="")


@dataclass
class Call:
    """`name('arg') { body }` or `name 'arg'` in the parse tree."""

    name: str
    strings: list[str]  # every string literal inside the call, in order
    node: Any  # the lark subtree

    def calls(self, name: str) -> list[Call]:
        return [
            call
            for call in iter_calls(self.node)
            if call.name == name and call.node is not self.node
        ]


def parse(text: str) -> Any:
    require(
        importlib.util.find_spec("groovy_parser") is not None,
        "groovy-parser is not installed (pip install groovy-parser)",
    )
    from groovy_parser.parser import create_groovy_parser
    from groovy_parser.tokenizer import GroovyRestrictedTokenizer

    tokens = list(GroovyRestrictedTokenizer().get_tokens(text))
    return create_groovy_parser().parse(tokens)


def token_text(subtree: Any) -> str:
    return str(subtree.children[0].value[1])  # groovy-parser tokens: (type, text, raw)


def call_name(path_expression: Any) -> str | None:
    """`name` when the path expression starts with a bare identifier (`stage(...)`, `sh ...`)."""
    primary = path_expression.children[0]
    if getattr(primary, "data", None) != "primary":
        return None
    identifier = primary.children[0]
    return token_text(identifier) if getattr(identifier, "data", None) == "identifier" else None


def iter_calls(tree: Any) -> Iterator[Call]:
    """Every call in document order: command style (`stage('x') { }`, `sh 'y'`) and `f(...)`."""
    heads: set[int] = set()
    for node in tree.iter_subtrees_topdown():  # pre-order, i.e. document order
        if node.data == "command_expression":
            head = next(
                (
                    s
                    for s in node.children[0].iter_subtrees_topdown()
                    if s.data == "path_expression"
                ),
                None,
            )
            if head is None or call_name(head) is None:
                continue
            heads.add(id(head))
        elif node.data == "path_expression" and id(node) not in heads:
            arguments = [c for c in node.children[1:] if getattr(c, "data", None) == "path_element"]
            if not arguments or not any(a.find_data("arguments") for a in arguments):
                continue
            head = node
        else:
            continue
        name = call_name(head)
        if name is None:
            continue
        strings = [
            token_text(s) for s in node.iter_subtrees_topdown() if s.data == "string_literal"
        ]
        yield Call(name, strings, node)


@pytest.fixture(scope="module")
def trees() -> dict[str, Any]:
    # Parsing is slow (an Earley parser, ~8 s per file): once per variant for the module.
    return {"full": parse(render_jenkinsfile(FULL)), "minimal": parse(render_jenkinsfile(MINIMAL))}


def stages(tree: Any) -> list[Call]:
    (pipeline,) = [c for c in iter_calls(tree) if c.name == "pipeline"]
    (block,) = pipeline.calls("stages")
    return block.calls("stage")


@pytest.mark.parametrize("variant", ["full", "minimal"])
def test_six_stages_in_order(trees: dict[str, Any], variant: str) -> None:
    assert [stage.strings[0] for stage in stages(trees[variant])] == STAGES


@pytest.mark.parametrize("variant", ["full", "minimal"])
def test_each_stage_runs_its_trainchain_command(trees: dict[str, Any], variant: str) -> None:
    for stage in stages(trees[variant]):
        commands = [s for sh in stage.calls("sh") for s in sh.strings]
        if stage.strings[0] == "fetch":
            expected = (
                'trainchain stage fetch --source "$GIT_URL" --ref "$GIT_COMMIT" --branch main'
            )
        else:
            expected = f'trainchain stage {stage.strings[0]} --run "$RUN_ID"'
        assert commands == [expected]


def test_fetch_keeps_the_run_id(trees: dict[str, Any]) -> None:
    fetch = stages(trees["full"])[0]
    (sh,) = fetch.calls("sh")
    source = render_jenkinsfile(FULL)
    assert "env.RUN_ID = sh(returnStdout: true, script: 'trainchain stage fetch" in source
    assert ").trim()" in source
    assert fetch.calls("checkout") and fetch.calls("withEnv")
    assert [c.strings for c in fetch.calls("sshagent")] == [["deploy-key"] + sh.strings]
    assert not stages(trees["minimal"])[0].calls("sshagent")


@pytest.mark.parametrize("variant", ["full", "minimal"])
def test_exit_3_is_unstable_only_for_tune_promote_monitor(
    trees: dict[str, Any], variant: str
) -> None:
    for stage in stages(trees[variant]):
        unstable = stage.calls("unstable")
        if stage.strings[0] in ("tune", "promote", "monitor"):
            assert len(unstable) == 1
            assert "target not reached (exit 3)" in unstable[0].strings[0]
            assert stage.calls("error")  # any other non-zero exit fails the stage
        else:
            assert not unstable


def test_exit_code_branching_in_source() -> None:
    source = render_jenkinsfile(FULL)
    assert source.count("returnStatus: true") == 3
    assert source.count("if (rc == 3) {") == 3
    assert source.count("} else if (rc != 0) {") == 3


def test_docker_stages_run_on_the_docker_label(trees: dict[str, Any]) -> None:
    for stage in stages(trees["full"]):
        agents = stage.calls("agent")
        if stage.strings[0] in ("detect", "train", "tune", "monitor"):
            assert len(agents) == 1 and agents[0].strings == ["docker"]
        else:
            assert not agents  # the pipeline's own agent, label 'linux'
    assert "    agent { label 'linux' }\n" in render_jenkinsfile(FULL)
    assert all(not s.calls("agent") for s in stages(trees["minimal"]))
    assert "    agent any\n" in render_jenkinsfile(MINIMAL)


def test_triggers_and_credentials(trees: dict[str, Any]) -> None:
    (pipeline,) = [c for c in iter_calls(trees["full"]) if c.name == "pipeline"]
    (triggers,) = pipeline.calls("triggers")
    assert "H/5 * * * *" in triggers.strings
    full, minimal = render_jenkinsfile(FULL), render_jenkinsfile(MINIMAL)
    assert "githubPush()" in full and "githubPush()" in minimal
    assert "pollSCM(" not in minimal
    assert "TRAINCHAIN_DB_URL = credentials('tc-db')" in full
    assert "credentials(" not in minimal


def test_a_broken_jenkinsfile_does_not_parse() -> None:
    """The grammar really rejects bad Groovy, so the parse above is a check."""
    from lark.exceptions import ParseError

    broken = render_jenkinsfile(MINIMAL).replace("stage('train') {", "stage('train') ", 1)
    with pytest.raises(ParseError):
        parse(broken)
