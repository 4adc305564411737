"""The connection budget of phase 3, with the seed's numbers worked by hand."""
import pytest

from ansible_collections.advwell.platform.plugins.module_utils.connection_budget import (
    BudgetError, connection_budget)


def test_seed_numbers_75_of_500_with_425_free():
    budget = connection_budget(3, 25, 500)
    assert (budget["backend"], budget["total"], budget["free"], budget["fits"]) == (75, 75, 425, True)
    assert budget["arithmetic"] == ("backend 3 x 25 = 75, exporter 0, backup jobs 0, reserved 0: "
                                    "75 of 500, 425 free")


def test_six_replicas_for_400_offices_fit_with_everything_else():
    # 6 x 25 = 150, + exporter 3 + backups 4 + reserved 3 = 160 of 500
    budget = connection_budget(6, 25, 500, exporter=3, backup_jobs=4, reserved=3)
    assert (budget["total"], budget["free"], budget["fits"]) == (160, 340, True)


def test_twenty_replicas_at_25_do_not_fit_500_with_the_reserve():
    # 20 x 25 = 500 alone uses every slot; the 3 reserved ones push it over.
    budget = connection_budget(20, 25, 500, reserved=3)
    assert (budget["total"], budget["free"], budget["fits"]) == (503, -3, False)
    assert budget["arithmetic"].endswith("503 of 500, 3 over")


def test_exactly_full_fits():
    assert connection_budget(4, 25, 100)["fits"] is True
    assert connection_budget(4, 25, 100)["free"] == 0


def test_max_replicas():
    # (500 - 3 - 4 - 3) // 25 = 19
    assert connection_budget(3, 25, 500, exporter=3, backup_jobs=4, reserved=3)["max_replicas"] == 19


def test_numbers_given_as_strings_are_read():
    assert connection_budget("3", "25", "500")["total"] == 75


@pytest.mark.parametrize("args,kwargs,message", [
    ((-1, 25, 500), {}, "replicas must be at least 0, got -1"),
    ((3, 0, 500), {}, "pool_size must be at least 1, got 0"),
    ((3, 25, "lots"), {}, "max_connections must be a whole number, got 'lots'"),
    ((3, 25, 500), {"reserved": -3}, "reserved must be at least 0, got -3"),
    ((True, 25, 500), {}, "replicas must be a whole number"),
])
def test_bad_input_names_the_value(args, kwargs, message):
    with pytest.raises(BudgetError, match=message.replace("(", r"\(")):
        connection_budget(*args, **kwargs)
