"""The status board: percentages, the seed's board drawn from checks, the JSON document."""
import json

import pytest

from ansible_collections.advwell.platform.plugins.module_utils.status_board import (
    StatusBoardError, progress_bar, status_board)

TITLES = {1: "Preparação VPS", 2: "Migração PostgreSQL", 3: "Otimizações", 4: "Segurança", 5: "Backups",
          6: "Monitoramento", 7: "Escalabilidade", 8: "Documentação"}


def passing(phase, count=1):
    return [{"phase": phase, "name": f"CHECK {phase}.{index}", "host": "app-vps", "ok": True} for index in range(count)]


def seed_checks():
    """The seed's board: every phase done but phase 4, where one check of ten fails."""
    checks = [check for phase in (1, 2, 3, 5, 6, 7, 8) for check in passing(phase)]
    checks += passing(4, 9)
    checks.append({"phase": 4, "name": "FALTA REVOGAR TOKENS", "host": "app-vps", "ok": False,
                   "detail": "/root/advwell/.env:3 GitHub Token"})
    return checks


def test_the_seeds_board_is_98_percent_with_phase_4_at_90():
    document = status_board(seed_checks(), TITLES, "2026-01-04 21:50")
    assert document["percent"] == 98
    assert document["done"] is False
    assert [phase["percent"] for phase in document["phases"]] == [100, 100, 100, 90, 100, 100, 100, 100]
    assert document["phases"][3]["failing"] == ["FALTA REVOGAR TOKENS"]
    assert (document["phases"][3]["passed"], document["phases"][3]["total"]) == (9, 10)


def test_the_board_is_drawn_as_the_seed_draws_it():
    assert status_board(seed_checks(), TITLES, "2026-01-04 21:50")["board"] == [
        "┌" + "─" * 82 + "┐",
        "│                          PROGRESSO GERAL: 98% CONCLUÍDO                          │",
        "├" + "─" * 82 + "┤",
        "│  Fase 1: Preparação VPS        ████████████████████ 100% ✓ CONCLUÍDO             │",
        "│  Fase 2: Migração PostgreSQL   ████████████████████ 100% ✓ CONCLUÍDO             │",
        "│  Fase 3: Otimizações           ████████████████████ 100% ✓ CONCLUÍDO             │",
        "│  Fase 4: Segurança             ██████████████████░░  90% ◐ FALTA REVOGAR TOKENS  │",
        "│  Fase 5: Backups               ████████████████████ 100% ✓ CONCLUÍDO             │",
        "│  Fase 6: Monitoramento         ████████████████████ 100% ✓ CONCLUÍDO             │",
        "│  Fase 7: Escalabilidade        ████████████████████ 100% ✓ CONCLUÍDO             │",
        "│  Fase 8: Documentação          ████████████████████ 100% ✓ CONCLUÍDO             │",
        "└" + "─" * 82 + "┘",
        "Última atualização: 2026-01-04 21:50",
        "  ✗ Fase 4 FALTA REVOGAR TOKENS (app-vps): /root/advwell/.env:3 GitHub Token",
    ]


def test_every_line_of_the_box_is_as_wide():
    board = status_board(seed_checks(), TITLES)["board"]
    box = [line for line in board if line[0] in "┌│├└"]
    assert len(box) == 12
    assert {len(line) for line in box} == {84}


def test_shares_are_rounded_down_so_one_failure_never_shows_100():
    checks = passing(5, 199) + [{"phase": 5, "name": "ÚLTIMO BACKUP NÃO ESTÁ NO S3", "host": "db-vps", "ok": False}]
    document = status_board(checks, TITLES)
    assert document["phases"][0]["percent"] == 99
    assert document["percent"] == 99
    # 2 of 3: 66.67% shows 66, with 13 of 20 cells (66 x 20 // 100).
    document = status_board(passing(3, 2) + [{"phase": 3, "name": "REDIS SEM UM MASTER", "ok": False}], TITLES)
    assert document["phases"][0]["percent"] == 66
    assert "█" * 13 + "░" * 7 + "  66% ◐ REDIS SEM UM MASTER" in document["board"][3]


def test_overall_is_the_mean_of_the_phases_not_of_all_checks():
    # Phase 1: 1 of 2 (50%); phase 2: 10 of 10. All checks: 11 of 12 = 91%; mean of phases: 75%.
    checks = passing(1) + [{"phase": 1, "name": "UFW FORA DO DECLARADO", "ok": False}] + passing(2, 10)
    assert status_board(checks, TITLES)["percent"] == 75


def test_a_phase_with_no_passing_check_is_marked_and_names_each_failure_once():
    checks = [{"phase": 5, "name": "ÚLTIMO BACKUP FALHOU", "host": host, "ok": False, "detail": "stage upload"}
              for host in ("db-vps", "db-2")]
    checks.append({"phase": 5, "name": "TESTE DE RESTORE FALHOU", "host": "db-vps", "ok": False})
    document = status_board(checks, TITLES)
    assert document["percent"] == 0
    assert document["phases"][0]["failing"] == ["ÚLTIMO BACKUP FALHOU", "TESTE DE RESTORE FALHOU"]
    # The box names the first failing check and counts the others; every one is listed below it.
    assert document["board"][3] == "│  Fase 5: Backups   " + "░" * 20 + "   0% ✗ ÚLTIMO BACKUP FALHOU (+1)  │"
    assert document["board"][-3:] == [
        "  ✗ Fase 5 ÚLTIMO BACKUP FALHOU (db-vps): stage upload",
        "  ✗ Fase 5 ÚLTIMO BACKUP FALHOU (db-2): stage upload",
        "  ✗ Fase 5 TESTE DE RESTORE FALHOU (db-vps)",
    ]
    assert [(check["phase"], check["host"]) for check in document["failing"]] == [(5, "db-vps"), (5, "db-2"), (5, "db-vps")]


def test_phases_without_checks_are_left_out_and_everything_passing_is_done():
    document = status_board(passing(4, 3) + passing(8), TITLES)
    assert [phase["phase"] for phase in document["phases"]] == [4, 8]
    assert document["done"] is True and document["percent"] == 100 and document["failing"] == []
    assert document["board"][1].strip("│ ") == "PROGRESSO GERAL: 100% CONCLUÍDO"


def test_no_checks_at_all_is_0_percent_and_not_done():
    document = status_board([], TITLES)
    assert (document["percent"], document["done"], document["phases"]) == (0, False, [])


def test_the_document_is_json_and_string_phase_numbers_are_accepted():
    document = status_board([{"phase": "4", "name": " FALTA REVOGAR TOKENS ", "ok": False}],
                            {str(number): title for number, title in TITLES.items()})
    assert json.loads(json.dumps(document)) == document
    assert document["phases"][0]["phase"] == 4
    assert document["phases"][0]["checks"] == [{"name": "FALTA REVOGAR TOKENS", "host": "", "ok": False, "detail": ""}]


@pytest.mark.parametrize("percent,cells", [(0, 0), (4, 0), (5, 1), (50, 10), (94, 18), (95, 19), (99, 19), (100, 20)])
def test_bar_cells_round_down(percent, cells):
    assert progress_bar(percent) == "█" * cells + "░" * (20 - cells)


@pytest.mark.parametrize("checks,titles,message", [
    ([{"phase": 4, "name": "X", "ok": "yes"}], TITLES, "check 0 (X): ok 'yes' is not true or false"),
    ([{"phase": 4, "ok": True}], TITLES, "check 0: missing 'name'"),
    ([{"phase": 4, "name": "", "ok": True}], TITLES, "check 0: name '' is not a non-empty string"),
    ([{"phase": 0, "name": "X", "ok": True}], TITLES, "phase 0 is not a phase number"),
    ([{"phase": "four", "name": "X", "ok": True}], TITLES, "phase 'four' is not a phase number"),
    ([{"phase": 9, "name": "X", "ok": True}], TITLES, "checks of phase 9 have no title in titles"),
    (["X"], TITLES, "check 0: 'X' is not a dict"),
])
def test_bad_checks_are_refused_naming_the_check(checks, titles, message):
    with pytest.raises(StatusBoardError, match=message.replace("(", r"\(").replace(")", r"\)")):
        status_board(checks, titles)
