#!/usr/bin/env python3
"""Deterministic data generator for the AdvWell lab database.

    advwell_datagen.py --dsn DSN [--offices N] [--target-size-mb M] [--seed S]
                       [--create-schema | --no-create-schema] [--force] [--counts]

Without --offices it writes exactly the seed's rows (10 companies, 21 users,
35 clients, 31 cases, 78 schedule events). --offices N writes N offices with a
fixed mix of small, medium and large tenants. --target-size-mb M then keeps
adding case history in bulk until pg_database_size() reaches M MB.

Python only decides how many rows each office gets; the rows themselves are
written server-side by INSERT ... SELECT generate_series, with text and dates
derived from md5(seed, row id). The same arguments against the same PostgreSQL
version therefore give the same table contents, row for row.

Needs only the standard library and psycopg2.
"""
import argparse
import json
import math
import os
import random
import sys
import time
from dataclasses import dataclass

import psycopg2
from psycopg2.extras import execute_values

TABLES = ("companies", "users", "clients", "cases", "schedule_events")

# Every generated date is relative to this instant, never to now().
EPOCH = "2026-01-04 00:00:00+00"

SCHEMA_FILE_CANDIDATES = (
    os.path.join(os.path.dirname(os.path.realpath(__file__)), "schema.sql"),
    "/usr/local/share/advwell/datagen/schema.sql",
)

EXIT_MISSING_TABLES = 2
EXIT_REFUSED = 3
# Session advisory lock: a second generator on the same database waits, then
# finds the tables filled and refuses, instead of racing the first one.
GENERATOR_LOCK_KEY = 4_207_002


@dataclass(frozen=True)
class Office:
    """How many rows of each kind one tenant (law office) gets."""
    company_id: int
    plan: str
    users: int
    clients: int
    cases: int
    events: int


# The seed's ten offices; the columns add up to 21 users, 35 clients,
# 31 cases and 78 schedule events.
SEED_OFFICES = (
    ("professional", 4, 7, 6, 15),
    ("professional", 3, 5, 5, 12),
    ("basic", 2, 4, 4, 10),
    ("basic", 2, 4, 3, 8),
    ("basic", 2, 3, 3, 7),
    ("basic", 2, 3, 3, 7),
    ("basic", 2, 3, 2, 6),
    ("basic", 2, 2, 2, 5),
    ("basic", 1, 2, 2, 4),
    ("basic", 1, 2, 1, 4),
)

# Tenant mix for --offices: share of offices, then (min, max) rows per office.
TIERS = {
    "basic": dict(share=0.70, users=(1, 3), clients=(5, 30), cases=(3, 25), events=(8, 60)),
    "professional": dict(share=0.25, users=(4, 12), clients=(40, 150), cases=(30, 120),
                         events=(80, 400)),
    "enterprise": dict(share=0.05, users=(15, 40), clients=(200, 800), cases=(150, 600),
                       events=(500, 2000)),
}

WORD_LISTS = {
    "first_name": (
        "Ana", "Bruno", "Carla", "Daniel", "Eduardo", "Fernanda", "Gabriel", "Helena",
        "Igor", "Juliana", "Lucas", "Mariana", "Nicolas", "Olivia", "Paulo", "Rafaela",
        "Sergio", "Tatiana", "Vinicius", "Yasmin", "Leonardo", "Beatriz", "Marcos", "Patricia",
    ),
    "surname": (
        "Silva", "Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves", "Pereira",
        "Lima", "Gomes", "Costa", "Ribeiro", "Martins", "Carvalho", "Almeida", "Lopes",
        "Soares", "Fernandes", "Vieira", "Barbosa", "Rocha", "Dias", "Nascimento", "Moreira",
    ),
    "firm_suffix": (
        "Advogados Associados", "Sociedade de Advogados", "Advocacia", "Advocacia e Consultoria",
    ),
    "business_suffix": (
        "Comercio Ltda", "Engenharia S.A.", "Transportes Ltda", "Alimentos Ltda",
        "Construtora Ltda", "Tecnologia S.A.", "Distribuidora Ltda", "Servicos Medicos Ltda",
    ),
    "mail_domain": ("gmail.com", "outlook.com", "uol.com.br", "hotmail.com", "terra.com.br"),
    "area_code": ("11", "21", "31", "41", "51", "61", "71", "81", "85", "19"),
    "user_role": ("lawyer", "lawyer", "lawyer", "assistant"),
    "case_title": (
        "Acao de cobranca", "Reclamacao trabalhista", "Divorcio consensual", "Inventario",
        "Revisao contratual", "Indenizacao por danos morais", "Execucao fiscal", "Usucapiao",
        "Mandado de seguranca", "Acao de alimentos", "Despejo por falta de pagamento",
        "Recuperacao judicial", "Acao previdenciaria", "Guarda compartilhada",
    ),
    "case_status": (
        "open", "open", "open", "open", "open", "open", "suspended", "closed", "closed",
        "archived",
    ),
    # "kind|title": one pick gives both columns.
    "event_kind_title": (
        "hearing|Audiencia de conciliacao", "hearing|Audiencia de instrucao e julgamento",
        "deadline|Prazo para contestacao", "deadline|Prazo recursal",
        "deadline|Prazo para manifestacao", "meeting|Reuniao com cliente",
        "meeting|Reuniao de equipe", "task|Protocolar peticao", "task|Revisar minuta de acordo",
        "task|Calcular honorarios",
    ),
    "phrase": (
        "Cliente apresentou novos documentos para instruir o processo.",
        "Peticao inicial protocolada com pedido de tutela de urgencia.",
        "Aguardando manifestacao da parte contraria sobre o laudo pericial.",
        "Juiz designou audiencia de conciliacao para o proximo mes.",
        "Recurso de apelacao interposto dentro do prazo legal.",
        "Acordo parcial negociado, pendente de homologacao judicial.",
        "Expedido alvara para levantamento dos valores depositados.",
        "Contrato de honorarios assinado e digitalizado no sistema.",
        "Testemunhas arroladas conforme despacho saneador.",
        "Solicitada certidao de objeto e pe ao cartorio distribuidor.",
        "Embargos de declaracao opostos contra a sentenca.",
        "Calculo de liquidacao atualizado pela tabela do tribunal.",
        "Parecer tecnico anexado aos autos pelo assistente da parte.",
        "Intimacao recebida pelo diario oficial eletronico.",
        "Cliente informado por telefone sobre o andamento do feito.",
        "Custas processuais recolhidas e comprovante juntado.",
        "Pedido de gratuidade de justica deferido pelo juizo.",
        "Processo remetido ao tribunal para julgamento do recurso.",
        "Penhora on-line realizada com bloqueio parcial de valores.",
        "Minuta de acordo enviada ao advogado da parte contraria.",
        "Sentenca de procedencia publicada, aguardando transito em julgado.",
        "Agravo de instrumento distribuido a camara civel.",
        "Documentos pessoais do cliente conferidos e arquivados.",
        "Prazo suspenso em razao do recesso forense.",
        "Realizada diligencia presencial no forum da comarca.",
        "Notificacao extrajudicial enviada com aviso de recebimento.",
        "Audiencia redesignada a pedido do perito nomeado.",
        "Reuniao interna para definir a estrategia de defesa.",
        "Memoriais finais apresentados no prazo concedido.",
        "Cumprimento de sentenca iniciado com planilha de debito.",
        "Mandado de citacao devolvido com diligencia positiva.",
        "Proposta de parcelamento do debito encaminhada ao credor.",
    ),
}


# --- deciding how many rows each office gets -------------------------------

def seed_offices():
    return [Office(company_id, *sizes) for company_id, sizes in enumerate(SEED_OFFICES, 1)]


def tier_sequence(office_count, rng):
    """Plans for office_count offices in the TIERS proportions, in shuffled order."""
    large = round(office_count * TIERS["enterprise"]["share"])
    medium = round(office_count * TIERS["professional"]["share"])
    small = office_count - large - medium
    plans = ["basic"] * small + ["professional"] * medium + ["enterprise"] * large
    rng.shuffle(plans)
    return plans


def mixed_offices(office_count, seed):
    rng = random.Random(seed)
    offices = []
    for company_id, plan in enumerate(tier_sequence(office_count, rng), 1):
        tier = TIERS[plan]
        sizes = [rng.randint(*tier[kind]) for kind in ("users", "clients", "cases", "events")]
        offices.append(Office(company_id, plan, *sizes))
    return offices


@dataclass
class PlanRow:
    """One office's id ranges for one INSERT pass: rows base+1 .. base+n."""
    company_id: int
    plan: str
    user_base: int
    n_users: int
    client_base: int
    n_clients: int
    case_base: int
    n_cases: int
    event_base: int
    n_events: int

    def as_tuple(self):
        return (self.company_id, self.plan, self.user_base, self.n_users, self.client_base,
                self.n_clients, self.case_base, self.n_cases, self.event_base, self.n_events)


def base_plan(offices):
    """Contiguous id ranges per office, starting at id 1 in every table."""
    rows = []
    users = clients = cases = events = 0
    for office in offices:
        rows.append(PlanRow(office.company_id, office.plan, users, office.users, clients,
                            office.clients, cases, office.cases, events, office.events))
        users += office.users
        clients += office.clients
        cases += office.cases
        events += office.events
    return rows


def growth_plan(base_rows, events_wanted, next_case_id, next_event_id):
    """One batch of extra case history, shared out in proportion to office size.

    New events only point at cases of the same batch and office; new cases
    point at the office's existing clients, new events at its existing users.
    """
    total_events = sum(row.n_events for row in base_rows)
    rows = []
    case_base, event_base = next_case_id - 1, next_event_id - 1
    for base in base_rows:
        events = math.ceil(events_wanted * base.n_events / total_events)
        cases = max(1, events // 4)
        rows.append(PlanRow(base.company_id, base.plan, base.user_base, base.n_users,
                            base.client_base, base.n_clients, case_base, cases,
                            event_base, events))
        case_base += cases
        event_base += events
    return rows


# --- SQL helpers living in pg_temp, gone when the session ends ---------------
# Each generated row hashes its key ('<table letter>:<row id>', plus the seed)
# once, into 64 bytes = 16 "slots" of 32 bits; every random-looking column of
# the row reads its own slot. One hash per row keeps the bulk inserts fast.

ROW_HASH_SLOTS = 16


def create_sql_helpers(cur, seed):
    md5_parts = " || ".join(f"md5('{int(seed)}:' || key || ':{part}')" for part in range(4))
    cur.execute(f"""
        CREATE FUNCTION pg_temp.row_hash(key text) RETURNS bytea
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        AS $$ SELECT decode({md5_parts}, 'hex') $$""")
    cur.execute("""
        CREATE FUNCTION pg_temp.slot(hash bytea, n int) RETURNS bigint
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        AS $$ SELECT get_byte(hash, 4 * n)::bigint << 24 | get_byte(hash, 4 * n + 1) << 16
                     | get_byte(hash, 4 * n + 2) << 8 | get_byte(hash, 4 * n + 3) $$""")
    cur.execute("""
        CREATE FUNCTION pg_temp.digits(hash bytea, n int, width int) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        AS $$ SELECT lpad((pg_temp.slot(hash, n) % (10 ^ width)::bigint)::text, width, '0') $$""")
    cur.execute("""
        CREATE FUNCTION pg_temp.cnpj(digits text) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        AS $$ SELECT substr(digits, 1, 2) || '.' || substr(digits, 3, 3) || '.'
                     || substr(digits, 6, 3) || '/0001-' || substr(digits, 9, 2) $$""")
    cur.execute("""
        CREATE FUNCTION pg_temp.cpf(digits text) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        AS $$ SELECT substr(digits, 1, 3) || '.' || substr(digits, 4, 3) || '.'
                     || substr(digits, 7, 3) || '-' || substr(digits, 10, 2) $$""")
    for name, words in WORD_LISTS.items():
        array_literal = cur.mogrify("%s::text[]", (list(words),)).decode()
        cur.execute(f"""
            CREATE FUNCTION pg_temp.{name}(hash bytea, n int) RETURNS text
            LANGUAGE sql IMMUTABLE PARALLEL SAFE
            AS $$ SELECT ({array_literal})[1 + pg_temp.slot(hash, n) % {len(words)}] $$""")
    cur.execute("""
        CREATE TEMP TABLE datagen_plan (
            company_id bigint PRIMARY KEY, plan text NOT NULL,
            user_base bigint NOT NULL, n_users int NOT NULL,
            client_base bigint NOT NULL, n_clients int NOT NULL,
            case_base bigint NOT NULL, n_cases int NOT NULL,
            event_base bigint NOT NULL, n_events int NOT NULL)""")


def load_plan(cur, rows):
    cur.execute("TRUNCATE pg_temp.datagen_plan")
    execute_values(cur, "INSERT INTO pg_temp.datagen_plan VALUES %s",
                   [row.as_tuple() for row in rows])


def phrases_sql(count_slot, fewest, most):
    """SQL: fewest..most phrases from r.hash; count_slot says how many, the next slots which."""
    assert count_slot + most < ROW_HASH_SLOTS
    how_many = f"({fewest} + pg_temp.slot(r.hash, {count_slot}) % {most - fewest + 1})"
    parts = []
    for index in range(1, most + 1):
        phrase = f"pg_temp.phrase(r.hash, {count_slot + index})"
        parts.append(phrase if index <= fewest
                     else f"CASE WHEN {how_many} >= {index} THEN {phrase} END")
    return "concat_ws(' ', " + ", ".join(parts) + ")"


def row_hash_sql(key_sql):
    # OFFSET 0 keeps the planner from inlining the subquery, so the hash is
    # computed once per row and not once per column that reads it.
    return f"CROSS JOIN LATERAL (SELECT pg_temp.row_hash({key_sql}) AS hash OFFSET 0) AS r"


# --- the INSERT ... SELECT statements, one per table -------------------------

INSERT_COMPANIES = f"""
INSERT INTO public.companies (id, name, document, email, plan, created_at)
SELECT p.company_id,
       pg_temp.surname(r.hash, 0) || ' & ' || pg_temp.surname(r.hash, 1) || ' '
         || pg_temp.firm_suffix(r.hash, 2),
       pg_temp.cnpj(pg_temp.digits(r.hash, 3, 8) || pg_temp.digits(r.hash, 4, 2)),
       'contato@escritorio' || p.company_id || '.adv.br',
       p.plan,
       '{EPOCH}'::timestamptz - make_interval(days => 400 + (pg_temp.slot(r.hash, 5) % 1500)::int)
FROM pg_temp.datagen_plan p
{row_hash_sql("'c:' || p.company_id")}
ORDER BY p.company_id"""

INSERT_USERS = f"""
INSERT INTO public.users (id, company_id, email, name, role, password_hash, created_at)
SELECT u.id, p.company_id,
       lower(n.first || '.' || n.last) || (u.id - p.user_base)
         || '@escritorio' || p.company_id || '.adv.br',
       n.first || ' ' || n.last,
       CASE WHEN u.id = p.user_base + 1 THEN 'admin' ELSE pg_temp.user_role(r.hash, 2) END,
       -- bcrypt-shaped placeholder: no password matches it.
       '$2b$10$' || substr(encode(r.hash, 'hex'), 65, 53),
       '{EPOCH}'::timestamptz - make_interval(days => (pg_temp.slot(r.hash, 3) % 900)::int)
FROM pg_temp.datagen_plan p
CROSS JOIN LATERAL generate_series(p.user_base + 1, p.user_base + p.n_users) AS u(id)
{row_hash_sql("'u:' || u.id")}
CROSS JOIN LATERAL (SELECT pg_temp.first_name(r.hash, 0) AS first,
                           pg_temp.surname(r.hash, 1) AS last) AS n
ORDER BY u.id"""

INSERT_CLIENTS = f"""
INSERT INTO public.clients (id, company_id, name, document, email, phone, created_at)
SELECT c.id, p.company_id,
       CASE WHEN k.is_business THEN n.last || ' ' || pg_temp.business_suffix(r.hash, 4)
            ELSE n.first || ' ' || n.middle || ' ' || n.last END,
       CASE WHEN k.is_business THEN pg_temp.cnpj(k.document_digits)
            ELSE pg_temp.cpf(k.document_digits) END,
       CASE WHEN k.is_business THEN 'contato@' || lower(n.last) || c.id || '.com.br'
            ELSE lower(n.first || '.' || n.last) || c.id || '@'
                 || pg_temp.mail_domain(r.hash, 7) END,
       CASE WHEN pg_temp.slot(r.hash, 8) % 10 = 0 THEN NULL
            ELSE '(' || pg_temp.area_code(r.hash, 9) || ') 9'
                 || overlay(pg_temp.digits(r.hash, 10, 8) placing '-' from 5 for 0) END,
       '{EPOCH}'::timestamptz - make_interval(days => (pg_temp.slot(r.hash, 11) % 1200)::int)
FROM pg_temp.datagen_plan p
CROSS JOIN LATERAL generate_series(p.client_base + 1, p.client_base + p.n_clients) AS c(id)
{row_hash_sql("'l:' || c.id")}
CROSS JOIN LATERAL (SELECT pg_temp.slot(r.hash, 0) % 4 = 0 AS is_business,
                           pg_temp.digits(r.hash, 5, 9) || pg_temp.digits(r.hash, 6, 2)
                             AS document_digits) AS k
CROSS JOIN LATERAL (SELECT pg_temp.first_name(r.hash, 1) AS first,
                           pg_temp.surname(r.hash, 2) AS middle,
                           pg_temp.surname(r.hash, 3) AS last) AS n
ORDER BY c.id"""


def insert_cases_sql(fewest_phrases, most_phrases):
    return f"""
INSERT INTO public.cases (id, company_id, client_id, number, title, status, opened_at, description)
SELECT c.id, p.company_id,
       p.client_base + 1 + pg_temp.slot(r.hash, 0) % p.n_clients,
       -- CNJ-style number; the leading id keeps it unique within the office.
       lpad(c.id::text, greatest(7, length(c.id::text)), '0') || '-' || pg_temp.digits(r.hash, 1, 2)
         || '.' || to_char(o.opened_at, 'YYYY') || '.8.26.' || pg_temp.digits(r.hash, 2, 4),
       pg_temp.case_title(r.hash, 3),
       pg_temp.case_status(r.hash, 4),
       o.opened_at,
       {phrases_sql(7, fewest_phrases, most_phrases)}
FROM pg_temp.datagen_plan p
CROSS JOIN LATERAL generate_series(p.case_base + 1, p.case_base + p.n_cases) AS c(id)
{row_hash_sql("'k:' || c.id")}
CROSS JOIN LATERAL (
    SELECT '{EPOCH}'::timestamptz
           - make_interval(days => 1 + (pg_temp.slot(r.hash, 5) % 2500)::int,
                           mins => (pg_temp.slot(r.hash, 6) % 600)::int) AS opened_at
) AS o
ORDER BY c.id"""


def insert_events_sql(fewest_phrases, most_phrases):
    return f"""
INSERT INTO public.schedule_events
       (id, company_id, case_id, user_id, title, starts_at, ends_at, kind, description)
SELECT e.id, p.company_id,
       CASE WHEN pg_temp.slot(r.hash, 0) % 5 = 0 THEN NULL
            ELSE p.case_base + 1 + pg_temp.slot(r.hash, 1) % p.n_cases END,
       p.user_base + 1 + pg_temp.slot(r.hash, 2) % p.n_users,
       split_part(t.kind_title, '|', 2),
       s.starts_at,
       CASE WHEN split_part(t.kind_title, '|', 1) = 'deadline' THEN s.starts_at
            ELSE s.starts_at + make_interval(mins => 30 * (1 + (pg_temp.slot(r.hash, 6) % 6)::int))
       END,
       split_part(t.kind_title, '|', 1),
       {phrases_sql(7, fewest_phrases, most_phrases)}
FROM pg_temp.datagen_plan p
CROSS JOIN LATERAL generate_series(p.event_base + 1, p.event_base + p.n_events) AS e(id)
{row_hash_sql("'e:' || e.id")}
CROSS JOIN LATERAL (SELECT pg_temp.event_kind_title(r.hash, 3) AS kind_title) AS t
CROSS JOIN LATERAL (
    -- Business hours (08:00-18:00 UTC) within 120 days either side of the epoch.
    SELECT '{EPOCH}'::timestamptz
           + make_interval(days => (pg_temp.slot(r.hash, 4) % 240)::int - 120,
                           mins => 480 + 15 * (pg_temp.slot(r.hash, 5) % 40)::int) AS starts_at
) AS s
ORDER BY e.id"""


# --- database steps ---------------------------------------------------------

def schema_sql(path=None):
    candidates = (path,) if path else SCHEMA_FILE_CANDIDATES
    for candidate in candidates:
        if candidate and os.path.exists(candidate):
            with open(candidate, encoding="utf-8") as handle:
                return handle.read()
    raise SystemExit(f"schema.sql not found (looked in {', '.join(c for c in candidates if c)})")


def missing_tables(cur):
    cur.execute("SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND c.relkind = 'r' AND relname = ANY(%s)",
                (list(TABLES),))
    present = {name for (name,) in cur.fetchall()}
    return [table for table in TABLES if table not in present]


def filled_tables(cur):
    filled = []
    for table in TABLES:
        cur.execute(f"SELECT EXISTS (SELECT 1 FROM public.{table})")
        if cur.fetchone()[0]:
            filled.append(table)
    return filled


def table_counts(cur):
    counts = {}
    for table in TABLES:
        cur.execute(f"SELECT count(*) FROM public.{table}")
        counts[table] = cur.fetchone()[0]
    return counts


def database_size(cur):
    cur.execute("SELECT pg_database_size(current_database())")
    return cur.fetchone()[0]


def set_autovacuum(cur, enabled):
    # While filling to a size, autovacuum would add free-space and visibility
    # map forks at unpredictable moments and so change where the size is
    # reached: keep it off until the last batch is in.
    for table in TABLES:
        if enabled:
            cur.execute(f"ALTER TABLE public.{table} "
                        "RESET (autovacuum_enabled, toast.autovacuum_enabled)")
        else:
            cur.execute(f"ALTER TABLE public.{table} "
                        "SET (autovacuum_enabled = false, toast.autovacuum_enabled = false)")


def sync_identity_sequences(cur):
    """Let the application's own inserts continue after the generated ids."""
    for table in TABLES:
        cur.execute(f"SELECT setval(pg_get_serial_sequence('public.{table}', 'id'), "
                    f"coalesce(max(id), 0) + 1, false) FROM public.{table}")


def write_base_rows(cur, plan_rows):
    load_plan(cur, plan_rows)
    for statement in (INSERT_COMPANIES, INSERT_USERS, INSERT_CLIENTS,
                      insert_cases_sql(1, 4), insert_events_sql(1, 3)):
        cur.execute(statement)


def grow_to_size(conn, cur, base_rows, target_bytes):
    """Adds batches of case history until the database is at least target_bytes."""
    next_case = sum(row.n_cases for row in base_rows) + 1
    next_event = sum(row.n_events for row in base_rows) + 1
    # Fixed batch size per target, so the same target always writes the same batches.
    events_per_batch = min(100_000, max(2_000, target_bytes // (1024 * 1024) * 60))
    batch = 0
    started = time.monotonic()
    while database_size(cur) < target_bytes:
        batch += 1
        rows = growth_plan(base_rows, events_per_batch, next_case, next_event)
        load_plan(cur, rows)
        cur.execute(insert_cases_sql(4, 8))
        cur.execute(insert_events_sql(3, 8))
        conn.commit()
        next_case += sum(row.n_cases for row in rows)
        next_event += sum(row.n_events for row in rows)
        log(f"batch {batch}: {database_size(cur) / 2**20:.1f} MB of "
            f"{target_bytes / 2**20:.0f} MB after {time.monotonic() - started:.0f}s")


def log(message):
    print(f"advwell-datagen: {message}", file=sys.stderr, flush=True)


# --- command line -----------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Fill an AdvWell database with deterministic tenant data.")
    parser.add_argument("--dsn", default=os.environ.get("ADVWELL_DSN", ""),
                        help="libpq connection string or URL (default: $ADVWELL_DSN, "
                             "else libpq's PG* environment and local socket)")
    parser.add_argument("--offices", type=int,
                        help="number of offices with a small/medium/large mix "
                             "(default: the seed's 10 offices)")
    parser.add_argument("--target-size-mb", type=int,
                        help="add case history until pg_database_size reaches this many MB")
    parser.add_argument("--seed", type=int, default=1, help="seed for names and sizes (default 1)")
    parser.add_argument("--create-schema", action=argparse.BooleanOptionalAction, default=True,
                        help="run schema.sql first (default: yes)")
    parser.add_argument("--schema-file", help="schema.sql to use (default: next to this script)")
    parser.add_argument("--force", action="store_true",
                        help="truncate the tables first if they already have rows")
    parser.add_argument("--counts", action="store_true",
                        help="print the row count per table as JSON and exit")
    args = parser.parse_args(argv)
    if args.offices is not None and args.offices < 1:
        parser.error("--offices must be at least 1")
    if args.target_size_mb is not None and args.target_size_mb < 1:
        parser.error("--target-size-mb must be at least 1")
    return args


def prepare_tables(cur, args):
    """Schema present and empty, or the reason why not as an exit status."""
    if args.create_schema:
        cur.execute(schema_sql(args.schema_file))
    missing = missing_tables(cur)
    if missing:
        log(f"missing tables {', '.join(missing)}; run without --no-create-schema")
        return EXIT_MISSING_TABLES
    filled = filled_tables(cur)
    if filled and not args.force:
        log(f"refusing to fill: {', '.join(filled)} already have rows (use --force "
            "to truncate them first)")
        return EXIT_REFUSED
    if filled:
        log(f"--force: truncating {', '.join(TABLES)} (and tables referencing them)")
        cur.execute(f"TRUNCATE {', '.join('public.' + t for t in TABLES)} RESTART IDENTITY CASCADE")
    return 0


def generate(conn, cur, args):
    offices = mixed_offices(args.offices, args.seed) if args.offices else seed_offices()
    mix = {plan: sum(1 for office in offices if office.plan == plan) for plan in TIERS}
    log(f"writing {len(offices)} offices ({', '.join(f'{n} {plan}' for plan, n in mix.items())})")
    create_sql_helpers(cur, args.seed)
    plan_rows = base_plan(offices)
    write_base_rows(cur, plan_rows)
    conn.commit()
    if args.target_size_mb:
        set_autovacuum(cur, enabled=False)
        conn.commit()
        try:
            grow_to_size(conn, cur, plan_rows, args.target_size_mb * 1024 * 1024)
        finally:
            conn.rollback()  # whatever a failed batch left open
            set_autovacuum(cur, enabled=True)
            conn.commit()
    sync_identity_sequences(cur)
    cur.execute("ANALYZE " + ", ".join("public." + t for t in TABLES))
    conn.commit()


def print_counts(cur):
    missing = missing_tables(cur)
    if missing:
        log(f"missing tables {', '.join(missing)}")
        return EXIT_MISSING_TABLES
    print(json.dumps(table_counts(cur)))
    return 0


def main(argv=None):
    args = parse_args(argv)
    conn = psycopg2.connect(args.dsn, application_name="advwell-datagen")
    try:
        with conn.cursor() as cur:
            # Day arithmetic on timestamptz follows the session time zone.
            cur.execute("SET TIME ZONE 'UTC'; SET synchronous_commit = off; "
                        # JIT compiling these wide expressions costs more than it saves.
                        "SET jit = off; SET work_mem = '64MB'")
            if args.counts:
                return print_counts(cur)
            cur.execute("SELECT pg_advisory_lock(%s)", (GENERATOR_LOCK_KEY,))
            status = prepare_tables(cur, args)
            if status:
                conn.rollback()
                return status
            conn.commit()
            generate(conn, cur, args)
            log(f"database size {database_size(cur) / 2**20:.1f} MB")
            print(json.dumps(table_counts(cur)))
            return 0
    finally:
        conn.close()


if __name__ == "__main__":
    sys.exit(main())
