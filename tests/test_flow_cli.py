"""`tipbot flows …` on the command line: import, publish, rollback, export, list, schema."""

from __future__ import annotations

import json

import yaml

from bot.flows.loader import load_default_flows, parse_flow

from .cli import tipbot


def test_import_publish_rollback_export_and_list(tmp_path):
    env = {"TIPBOT_SECRET_KEY": "k" * 40}
    listed = tipbot("flows", "list", cwd=tmp_path, env=env)
    assert listed.returncode == 0 and listed.stdout.startswith("forced-labour (default)\t*v1\t")

    exported = tipbot("flows", "export", "forced-labour", cwd=tmp_path, env=env)
    raw = yaml.safe_load(exported.stdout)
    assert parse_flow(raw, "export") == load_default_flows()[0]

    raw["questions"][0]["text"]["en"] = "What happened? Choose everything that applies."
    edited = tmp_path / "edited.yaml"
    edited.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    imported = tipbot("flows", "import", str(edited), cwd=tmp_path, env=env)
    assert imported.stdout.strip() == (
        "forced-labour version 2 stored (not active yet: tipbot flows publish forced-labour 2)"
    )
    assert "\t*v1 v2\t" in tipbot("flows", "list", cwd=tmp_path, env=env).stdout
    published = tipbot("flows", "publish", "forced-labour", cwd=tmp_path, env=env)
    assert published.stdout.startswith("forced-labour version 2 is active")
    assert "\tv1 *v2\t" in tipbot("flows", "list", cwd=tmp_path, env=env).stdout
    rolled = tipbot("flows", "rollback", "forced-labour", "1", cwd=tmp_path, env=env)
    assert rolled.returncode == 0 and "\t*v1 v2\t" in tipbot("flows", "list", cwd=tmp_path, env=env).stdout
    missing = tipbot("flows", "rollback", "forced-labour", "9", cwd=tmp_path, env=env)
    assert missing.returncode == 2 and missing.stderr.strip() == "tipbot: flow 'forced-labour' has no version 9"

    second = tipbot("flows", "export", "forced-labour", "--version", "2", cwd=tmp_path, env=env)
    assert "Choose everything that applies." in second.stdout


def test_import_refuses_a_broken_file_and_changes_nothing(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "id: broken\nlanguages: [en]\ntitle: {en: t}\nquestions:\n  - {id: q, type: dropdown, text: {en: x}}\n"
    )
    result = tipbot("flows", "import", str(broken), cwd=tmp_path)
    assert result.returncode == 1 and "question 'q': type 'dropdown' is not one of" in result.stdout
    assert "broken" not in tipbot("flows", "list", cwd=tmp_path).stdout


def test_schema_is_json(tmp_path):
    result = tipbot("flows", "schema", cwd=tmp_path)
    schema = json.loads(result.stdout)
    assert schema["type"] == "object" and "questions" in schema["properties"]


def test_export_as_xlsform_validates_and_imports_back(tmp_path):
    env = {"TIPBOT_SECRET_KEY": "k" * 40}
    out = tmp_path / "flow.xlsx"
    exported = tipbot("flows", "export", "forced-labour", "--xlsform", "--out", str(out), cwd=tmp_path, env=env)
    assert exported.returncode == 0 and out.read_bytes()[:2] == b"PK"
    validated = tipbot("flows", "validate", str(out), cwd=tmp_path, env=env)
    assert validated.returncode == 0 and f"{out}: ok: flow 'forced-labour'" in validated.stdout
    imported = tipbot("flows", "import", str(out), "--publish", cwd=tmp_path, env=env)
    assert imported.stdout.strip() == "forced-labour version 2 stored (active)"
    assert "\tv1 *v2\t" in tipbot("flows", "list", cwd=tmp_path, env=env).stdout
