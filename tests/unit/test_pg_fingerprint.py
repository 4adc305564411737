from ansible_collections.advwell.platform.plugins.module_utils.pg_fingerprint import mismatches

SOURCE = {
    "tables": {"public.cases": {"rows": 31, "checksum": "100"},
               "public.users": {"rows": 21, "checksum": "200"}},
    "sequences": {"public.cases_id_seq": 31, "public.users_id_seq": 21},
}


def copy_of(fingerprint):
    return {"tables": {name: dict(table) for name, table in fingerprint["tables"].items()},
            "sequences": dict(fingerprint["sequences"])}


def test_identical_fingerprints_have_no_mismatch():
    assert mismatches(SOURCE, copy_of(SOURCE)) == []


def test_each_difference_names_its_table_or_sequence():
    target = copy_of(SOURCE)
    target["tables"]["public.cases"]["rows"] = 30
    target["tables"]["public.users"]["checksum"] = "201"
    target["sequences"]["public.cases_id_seq"] = 1
    assert mismatches(SOURCE, target) == [
        {"object": "public.cases", "kind": "table", "problem": "rows differ", "source": 31, "target": 30},
        {"object": "public.users", "kind": "table", "problem": "checksum differ", "source": "200",
         "target": "201"},
        {"object": "public.cases_id_seq", "kind": "sequence", "problem": "last_value differs",
         "source": 31, "target": 1},
    ]


def test_missing_and_extra_objects_are_mismatches():
    target = copy_of(SOURCE)
    del target["tables"]["public.users"]
    del target["sequences"]["public.users_id_seq"]
    target["tables"]["public.extra"] = {"rows": 0, "checksum": "0"}
    assert [(m["object"], m["problem"]) for m in mismatches(SOURCE, target)] == [
        ("public.users", "missing in target"),
        ("public.extra", "only in target"),
        ("public.users_id_seq", "missing in target"),
    ]
