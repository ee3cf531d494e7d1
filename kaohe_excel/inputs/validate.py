"""Judge what was read against the scheme: which files count, which values are usable.

Never raises on bad data: every problem becomes an `Issue` naming the file, sheet and
cell, the unit and indicator, and telling the unit what to do. What a person typed is
normalized where the meaning is clear (full-width digits, thousands separators, a
trailing unit, "85.3%") and each such repair is recorded as a 警告.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
import pandas as pd

from kaohe_excel.base import origin
from kaohe_excel.base.issues import Issue, IssueCode, Severity, count_errors, error, issues_frame, warning
from kaohe_excel.base.layout import LEAD_FILE_TYPE, UNIT_FILE_TYPE
from kaohe_excel.base.memory import release_unused
from kaohe_excel.base.tables import clean_text
from kaohe_excel.inputs import appeal, kinds, value_guard
from kaohe_excel.inputs.crosscheck import VERIFIED_COLUMNS, empty_verified
from kaohe_excel.inputs.number_text import parse_value
from kaohe_excel.inputs.rating_validate import RatingCollector
from kaohe_excel.inputs.read import FileResult, InboxStream, ReadResult
from kaohe_excel.inputs.row_checks import RowChecks
from kaohe_excel.scheme.workbook import Scheme

VALUE_COLUMNS = ["unit_code", "indicator_code", "value", "text_value", "evidence", "note", "file", "sheet", "cell", "unscored"]
CLAIM_COLUMNS = ["unit_code", "item_code", "count", "description", "evidence", "file", "sheet", "cell", "recorded_by"]
SUBMISSION_COLUMNS = ["file", "kind", "unit_code", "unit_name", "sha256", "size", "status"]


@dataclass
class Validated:
    values: pd.DataFrame
    claims: pd.DataFrame
    issues: list[Issue]
    submissions: pd.DataFrame
    missing_units: pd.DataFrame
    files: list[FileResult] = field(default_factory=list)
    # Lead departments' verified values (核定值), crosscheck.VERIFIED_COLUMNS; a blank row has NaN.
    verified: pd.DataFrame = field(default_factory=empty_verified)
    interim: object = None  # w-interim: interim.InterimValues when the scheme has 平时 indicators
    # The office's 复核 decisions (appeal.APPEAL_COLUMNS), from the one 复核登记表 in the inbox.
    appeals: pd.DataFrame = field(default_factory=appeal.empty_appeals)
    ratings: object = None  # w-rating: rating_validate.RatingOutcome when the scheme has 测评

    @property
    def issues_table(self) -> pd.DataFrame:
        return issues_frame(self.issues)

    @property
    def error_count(self) -> int:
        return sum(1 for i in self.issues if i.severity == Severity.ERROR)

    @property
    def warning_count(self) -> int:
        return sum(1 for i in self.issues if i.severity == Severity.WARNING)


SPEC_COLUMNS = ["indicator_code", "name", "measure_unit", "method", "target", "tier_table", "base", "full", "floor"]


@dataclass(eq=False)
class _Candidate:
    """One file that may be what a unit (or the office, or a lead department) submitted: what
    judging it produced is held apart until every file is seen, so the choice among several
    never depends on the order of file names. The same object marks its place in the main
    lists, so the records of the chosen file keep the order of reading."""

    key: tuple
    file: str
    proven: bool
    submission: dict
    issues: list = field(default_factory=list)
    values: list = field(default_factory=list)
    claims: list = field(default_factory=list)
    verified: list = field(default_factory=list)
    used: bool = False


@dataclass(eq=False)
class _Verdict:
    """What _Validator.file() added for one file, judged alone in a reading worker. Pickled
    with its file in one go, so a candidate keeps its identity: the same object marks its
    place in the lists, and its submission is the one in `submissions`."""

    issues: list
    values: list
    claims: list
    verified: list
    submissions: list
    candidates: list


class _FileJudge:
    """InboxStream.judge: in a reading worker, judge each file against the scheme and let its
    cells go; the validator's tables come with it (inherited where the pool forks)."""

    def __init__(self, validator: _Validator):
        self.validator = validator

    def __call__(self, result: FileResult) -> None:
        verdict = self.validator.judge_alone(result)
        if verdict is not None:
            result.verdict = verdict
            result.drop_cells()


def _spec_records(frame: pd.DataFrame) -> list[tuple[str, str, dict]]:
    """(unit_code, indicator_code, spec) per unit x indicator, spec holding the few fields
    validation reads. Rows with the same spec share one dict (one dict per unit x indicator
    cost more memory than the scheme itself); the distinct specs are found by grouping the
    columns, so only a few hundred dicts are built from a city-scale assignments frame."""
    if not len(frame):
        return []
    spec_ids = frame.groupby(SPEC_COLUMNS, sort=False, dropna=False).ngroup().to_numpy()
    first = np.unique(spec_ids, return_index=True)[1]  # the first row of each spec, by spec id
    distinct = frame.iloc[first]
    specs = [dict(zip(SPEC_COLUMNS, values)) for values in zip(*(distinct[c].tolist() for c in SPEC_COLUMNS))]
    return list(zip(frame["unit_code"].tolist(), frame["indicator_code"].tolist(), map(specs.__getitem__, spec_ids.tolist())))


class _Validator(RowChecks):
    def __init__(self, scheme: Scheme):
        self.scheme = scheme
        assignments = scheme.assignments()
        self.assignments = assignments
        # Only the columns read here are filtered: taking every column of a city's frame costs more.
        wanted = assignments[["unit_code", *SPEC_COLUMNS, "source", "exempt"]]
        exempt = wanted["exempt"].to_numpy(dtype=bool)
        is_self = (wanted["source"] == "self").to_numpy(dtype=bool)
        is_assessed = (wanted["source"] == "assessed").to_numpy(dtype=bool)
        # Plain dicts: validation touches every row of every file, pandas lookups would dominate.
        self.expected_self: dict[str, dict[str, dict]] = {}
        for unit_code, code, spec in _spec_records(wanted[~exempt & is_self]):
            self.expected_self.setdefault(unit_code, {})[code] = spec
        self.expected_assessed: dict[tuple[str, str], dict] = {
            (unit_code, code): spec for unit_code, code, spec in _spec_records(wanted[~exempt & is_assessed])}
        exempt_rows = wanted[exempt]
        self.exempt_pairs = set(zip(exempt_rows["unit_code"].tolist(), exempt_rows["indicator_code"].tolist()))
        self.indicator_codes = set(scheme.indicators["indicator_code"])
        self.names_in_use = {clean_text(v) for v in scheme.indicators["name"]} | {clean_text(v) for v in scheme.units["unit_name"]}
        self.unit_names = scheme.unit_names()
        tiers = scheme.tier_tables
        self.grades = {name: set(frame.loc[frame["level"] != "", "level"]) for name, frame in tiers.groupby("tier_table")}
        self.catalogue = {r["item_code"]: r for r in scheme.adjustments.to_dict("records")}
        self.issues: list[Issue] = []
        self.values: list[tuple] = []
        self.claims: list[dict] = []
        self.submissions: list[dict] = []
        self.unit_files: dict[str, str] = {}
        self.assessment_file: str | None = None
        self.verified: list[dict] = []
        self.lead_files: dict[str, str] = {}
        self.led: dict[str, set[str]] = {}
        led = scheme.indicators[(scheme.indicators["source"] == "self") & (scheme.indicators["lead_unit"] != "")]
        for lead, code in zip(led["lead_unit"], led["indicator_code"]):
            self.led.setdefault(lead, set()).add(code)
        self.lead_of = dict(zip(scheme.indicators["indicator_code"], scheme.indicators["lead_unit"]))
        self.key: origin.OfficeKey | None = None  # loaded when the first 校验码 is checked
        self.candidates: dict[tuple, list[_Candidate]] = {}
        self.open_candidate: _Candidate | None = None
        self.main_lists: tuple | None = None
        self.ambiguous: set[tuple] = set()
        self.appeal_files: list[tuple[str, list[dict], dict]] = []  # (file, appeals, submission) per 复核登记表
        self.rating = RatingCollector(scheme, self.add) if len(scheme.ratings) else None
        if origin.declares_demo(scheme):
            self.add(warning(IssueCode.demo_office_key,
                             f"考核方案「方案」表设定「{origin.SCHEME_KEY_ROW}」为「{origin.DEMO_KEY_VALUE}」：演示密钥随程序公开发布，"
                             "任何人都能用它伪造校验码，只能用于示例数据。正式考核请删除此行，再用 kaohe template 重新生成并下发模板"
                             "（见 docs/office-key.md）"))

    # ---------------------------------------------------------- one file alone (in a reading worker)
    def judge_alone(self, result: FileResult) -> _Verdict | None:
        """file(result) with nothing of the other files: what it adds to the lists, as a
        _Verdict that merge() appends in the main process exactly where file() would have.
        None for the kinds whose checks span files (the 复核登记表, the 测评 workbooks), and
        whenever judging fails here (no office key): the main process then judges the cells."""
        kind = kinds.KINDS.get(result.kind)
        if kind is not None and not kind.alone:
            return None
        kept = (self.issues, self.values, self.claims, self.verified, self.submissions, self.candidates)
        self.issues, self.values, self.claims, self.verified, self.submissions, self.candidates = [], [], [], [], [], {}
        try:
            self.file(result)
            return _Verdict(self.issues, self.values, self.claims, self.verified, self.submissions,
                            [candidate for found in self.candidates.values() for candidate in found])
        except Exception:  # e.g. OfficeKeyError: raised again where the main process judges the file
            return None
        finally:
            self.open_candidate = self.main_lists = None
            self.issues, self.values, self.claims, self.verified, self.submissions, self.candidates = kept

    def merge(self, verdict: _Verdict) -> None:
        """Append what judge_alone found for one file, in reading order (as file() would)."""
        self.issues.extend(verdict.issues)
        self.values.extend(verdict.values)
        self.claims.extend(verdict.claims)
        self.verified.extend(verdict.verified)
        self.submissions.extend(verdict.submissions)
        for candidate in verdict.candidates:
            self.candidates.setdefault(candidate.key, []).append(candidate)

    # ---------------------------------------------------------- helpers
    def submission(self, result: FileResult, unit_code: str, status: str) -> None:
        name = self.unit_names.get(unit_code, "")
        self.submissions.append({"file": result.name, "kind": result.kind, "unit_code": unit_code, "unit_name": name,
                                 "sha256": result.sha256, "size": result.size, "status": status})

    # ---------------------------------------------------------- files
    def file(self, result: FileResult) -> None:
        self.issues.extend(result.issues)
        if not result.readable or not result.kind:
            status = "skipped" if all(i.severity == Severity.WARNING for i in result.issues) else "rejected"
            self.submission(result, "", status)
            return
        proven = self.check_origin(result)
        if proven is None or not self.check_meta(result):
            self.submission(result, result.meta.get("单位代码", "") if proven is not None else "", "rejected")
            return
        kinds.KINDS[result.kind].judge(self, result, proven)
        self.end_candidate()

    def office_key(self) -> origin.OfficeKey:
        if self.key is None:
            self.key = origin.load_key(self.scheme)  # no key at all cannot run (OfficeKeyError)
        return self.key

    def check_origin(self, result: FileResult) -> bool | None:
        """Proof of origin: True for a file the office generated (its 校验码 matches), False for
        a unit table without one (read with a 警告, never displacing a proven file), None when
        the file is rejected (an office kind without proof, or any 校验码 that does not match)."""
        meta, name = result.meta, result.name
        kind = kinds.KINDS.get(result.kind)
        label = result.kind if kind is not None and kind.office else None
        verdict = origin.verify(self.office_key(), meta) if origin.has_code(meta) else origin.UNSIGNED
        if verdict == origin.GENUINE:
            return True
        if verdict == origin.FORGED:
            what = f"此{label}" if label else "模板"
            ids = "、".join(r for r in origin.IDENTITY_ROWS if r in meta)
            # The claimed unit is not named as the issue's unit: the claim is what failed.
            self.add(error(IssueCode.origin_forged,
                           f"{what}的隐藏标识（{ids}）与校验码不符：标识被改动过，或文件不是考核办生成的，未采用。"
                           f"请使用考核办下发的原始{label or '本单位模板'}重新填写（考核办如更换过密钥，须重新生成后下发，见 docs/office-key.md）",
                           file=name))
            return None
        if label:
            how = ("由考核办用 kaohe template --lead 生成并下发的核定表" if result.kind == LEAD_FILE_TYPE
                   else f"考核办用 kaohe template 生成的{label}")
            self.add(error(IssueCode.origin_missing,
                           f"此{label}没有考核办的校验码（不是本办生成的，或内容被复制到了新文件），未采用。请在{how}中填写后放入收件箱",
                           file=name))
            return None
        if meta:  # a table copied into a new workbook (no hidden sheet at all) is warned in check_meta
            self.add(warning(IssueCode.origin_missing,
                             "模板的隐藏标识中没有校验码（可能由旧版本程序生成，或标识被改动过），已按表头读取，请核实；"
                             "同一单位另有考核办下发的正式模板时以正式模板为准。今后请直接在下发的模板中填报",
                             file=name, unit=meta.get("单位代码", "")))
        return False

    def begin_candidate(self, key: tuple, result: FileResult, proven: bool) -> None:
        """From here until end_candidate, what judging the file adds is held in its candidate."""
        candidate = _Candidate(key, result.name, proven, self.submissions[-1])
        self.main_lists = (self.issues, self.values, self.claims, self.verified)
        for records in self.main_lists:
            records.append(candidate)
        self.issues, self.values, self.claims, self.verified = (
            candidate.issues, candidate.values, candidate.claims, candidate.verified)
        self.candidates.setdefault(key, []).append(candidate)
        self.open_candidate = candidate

    def end_candidate(self) -> None:
        if self.open_candidate is not None:
            self.issues, self.values, self.claims, self.verified = self.main_lists
            self.open_candidate = None

    def resolve_candidates(self) -> None:
        """One file per unit (and one 评定表, one 核定表 per lead department) is used: the only
        proven one, else the only one. Two or more leave it unused, named, whatever --allow-errors."""
        for key, found in self.candidates.items():
            pool = [c for c in found if c.proven] or found
            if len(pool) == 1:
                chosen = pool[0]
                chosen.used = True
                self.received(key, chosen.file)
                for other in found:
                    if other is not chosen:
                        other.submission["status"] = "unused"
                        self.add(warning(IssueCode.origin_displaced,
                                         f"此文件没有有效的模板标识或校验码，同一单位另有考核办下发的正式模板「{chosen.file}」，"
                                         "以正式模板为准，此文件未采用", file=other.file, unit=key[1]))
                continue
            self.ambiguous.add(key)
            for candidate in found:
                candidate.submission["status"] = "duplicate" if candidate in pool else "unused"
            files = "、".join(f"「{c.file}」" for c in pool)
            if key[0] == "unit":
                text = (f"单位「{key[1]} {self.unit_names.get(key[1], '')}」有 {len(pool)} 个可作为报送的文件：{files}，"
                        "无法确定以哪个为准，该单位未计分。请删除多余的文件、只保留最终版后重新运行")
            elif key[0] == "assessment":
                text = (f"收件箱中有 {len(pool)} 个评定表：{files}，无法确定以哪个为准，评定值和考核办登记的加扣分均未采用"
                        "（评定类指标未计分）。请只保留最终版后重新运行")
            else:
                text = (f"收到{key[1]}的 {len(pool)} 个核定表：{files}，无法确定以哪个为准，核定值均未采用（按各单位自报值计分）。"
                        "请只保留最终版后重新运行")
            self.add(error(IssueCode.duplicate_submission, text, file="、".join(c.file for c in pool),
                           unit=key[1] if key[0] == "unit" else ""))
        self.issues, self.values, self.claims, self.verified = (
            _expand(self.issues, "issues"), _expand(self.values, "values"), _expand(self.claims, "claims"),
            _expand(self.verified, "verified"))

    def received(self, key: tuple, file: str) -> None:
        if key[0] == "unit":
            self.unit_files[key[1]] = file
        elif key[0] == "assessment":
            self.assessment_file = file
        else:
            self.lead_files[key[1]] = file

    def check_meta(self, result: FileResult) -> bool:
        """Is this a template of this scheme and period? False rejects the file."""
        meta, name = result.meta, result.name
        scheme_meta = self.scheme.meta
        header = {k: clean_text(v.value) for k, v in result.header.items()}
        if not meta:
            self.add(warning(IssueCode.not_our_template,
                             "文件缺少模板标识（可能把内容复制到了新文件），已按表头读取，请核实；今后请直接在下发的模板中填报", file=name))
        scheme_name = meta.get("考核名称") or header.get("考核名称", "")
        period = meta.get("考核周期") or header.get("考核周期", "")
        # the file's texts are read folded (NFKC), the scheme's name is kept as written
        if scheme_name and scheme_name != clean_text(scheme_meta.name):
            self.add(error(IssueCode.other_scheme,
                           f"这是「{scheme_name}」的模板，不是「{scheme_meta.name}」的模板，请使用考核办本期下发的模板重新填报", file=name))
            return False
        if period and period != scheme_meta.period:
            self.add(error(IssueCode.other_period,
                           f"这是 {period} 期的模板，本期是 {scheme_meta.period}，请使用本期模板重新填报", file=name))
            return False
        fingerprint = meta.get("方案指纹", "")
        if fingerprint and fingerprint != self.scheme.fingerprint and result.kind == UNIT_FILE_TYPE:
            unit_code = meta.get("单位代码") or header.get("单位代码", "")
            template_codes = [c for c in meta.get("指标代码", "").split(",") if c]
            expected_codes = list(self.expected_self.get(unit_code, {}))
            if template_codes == expected_codes:
                self.add(warning(IssueCode.earlier_scheme_edit,
                                 "此模板由考核方案的较早版本生成，指标未变，已接受；如有疑问请与考核办核对", file=name, unit=unit_code))
            else:
                self.add(error(IssueCode.scheme_changed,
                               "此模板由考核方案的旧版本生成，指标已调整，请使用考核办最新下发的模板重新填报", file=name, unit=unit_code))
                return False
        return True

    def check_groups(self, values: pd.DataFrame) -> None:
        """The group-relative plausibility rule (value_guard): a number four orders of
        magnitude from its group's median is an error and is not scored."""
        group_of = dict(zip(self.scheme.units["unit_code"], self.scheme.units["group"]))
        far = value_guard.group_outliers(values, group_of)
        if not len(far):
            return
        number = pd.to_numeric(values["value"], errors="coerce").abs()
        usable = (number.notna() & ~values["unscored"].astype(bool)).to_numpy()
        # every usable value's peers (same group and indicator) found in one grouping, not a scan per outlier
        positions = np.flatnonzero(usable)
        peers_of = pd.Series(positions).groupby(
            [values["unit_code"].map(group_of).to_numpy()[positions], values["indicator_code"].to_numpy()[positions]],
            sort=False).indices
        for position in far:
            unit_code, code = values.at[position, "unit_code"], values.at[position, "indicator_code"]
            peers = positions[peers_of.get((group_of.get(unit_code), code), [])]
            median = float(number.iloc[peers].median())
            spec = self.expected_self.get(unit_code, {}).get(code) or self.expected_assessed.get((unit_code, code)) or {}
            self.add(error(IssueCode.implausible_value,
                           f"指标「{spec.get('name', code)}」{value_guard.group_message(float(values.at[position, 'value']), median)}",
                           file=values.at[position, "file"], sheet=values.at[position, "sheet"], cell=values.at[position, "cell"],
                           unit=unit_code, indicator=code))
        values.loc[far, "unscored"] = True

    def finish(self) -> Validated:
        self.resolve_candidates()
        missing = []
        for unit in self.scheme.units.itertuples():
            if unit.unit_code not in self.unit_files and unit.unit_code in self.expected_self \
                    and ("unit", unit.unit_code) not in self.ambiguous:
                missing.append({"unit_code": unit.unit_code, "unit_name": unit.unit_name, "group": unit.group,
                                "contact": unit.contact, "email": unit.email})
                self.add(error(IssueCode.missing_submission, f"单位「{unit.unit_code} {unit.unit_name}」未报送（收件箱中没有该单位的有效文件）",
                               unit=unit.unit_code))
        rating_outcome = None
        if self.rating is not None:
            rating_outcome, rating_values = self.rating.finish()
            self.values.extend(tuple(record[c] for c in VALUE_COLUMNS) for record in rating_values)
        if self.assessment_file is None and len(self.expected_assessed) and ("assessment", "") not in self.ambiguous:
            self.add(error(IssueCode.missing_assessment, "收件箱中没有考核办的评定表（评定表.xlsx），评定类指标无法计分"))
        appeals = self.appeals()
        values = pd.DataFrame(self.values, columns=VALUE_COLUMNS)
        self.check_groups(values)
        return Validated(
            appeals=appeals,
            values=values,
            claims=pd.DataFrame(self.claims, columns=CLAIM_COLUMNS),
            issues=self.issues,
            submissions=pd.DataFrame(self.submissions, columns=SUBMISSION_COLUMNS),
            missing_units=pd.DataFrame(missing, columns=["unit_code", "unit_name", "group", "contact", "email"]),
            verified=pd.DataFrame(self.verified, columns=VERIFIED_COLUMNS).astype({"verified_value": float}),
            ratings=rating_outcome,
        )


    def appeals(self) -> pd.DataFrame:
        """The one 复核登记表's appeals; two or more leave every appeal unused, named."""
        if len(self.appeal_files) > 1:
            for _, _, submission in self.appeal_files:
                submission["status"] = "duplicate"
            files = "、".join(f"「{name}」" for name, _, _ in self.appeal_files)
            self.add(error(IssueCode.duplicate_submission,
                           f"收件箱中有 {len(self.appeal_files)} 个复核登记表：{files}，无法确定以哪个为准，复核结论均未采用"
                           "（按复核前的数据计分）。请把所有复核事项登记在一个复核登记表中，只保留这一个后重新运行",
                           file="、".join(name for name, _, _ in self.appeal_files)))
            return appeal.empty_appeals()
        records = self.appeal_files[0][1] if self.appeal_files else []
        return pd.DataFrame(records, columns=appeal.APPEAL_COLUMNS).astype({"value": float}) if records else appeal.empty_appeals()


def _expand(records: list, part: str) -> list:
    """A main list with each candidate's place filled by its records, or by nothing when unused."""
    if not any(type(record) is _Candidate for record in records):
        return records
    out = []
    for record in records:
        if type(record) is _Candidate:
            if record.used:
                out.extend(getattr(record, part))
        else:
            out.append(record)
    return out


def validate(scheme: Scheme, read_result: ReadResult) -> Validated:
    """Check every file read against the scheme; collect issues, keep usable values."""
    validator = _Validator(scheme)
    for result in read_result.files:
        validator.file(result)
    validated = validator.finish()
    validated.files = read_result.files
    return validated


def validate_stream(scheme: Scheme, results: Iterable[FileResult]) -> Validated:
    """validate() over results as they are read (read.iter_inbox), same output; each file's
    cells are dropped once judged, so Validated.files keeps only what names and identifies
    a file (path, name, size, sha256, kind, meta, issues)."""
    validator = _Validator(scheme)
    if isinstance(results, InboxStream):
        # Judged where they are read: the pool, started at the first file, carries the
        # validator's tables; what needs every file (duplicates, missing units, groups) is here.
        results.judge = _FileJudge(validator)
        release_unused()  # the tables' temporaries: the workers fork from this process
    files = []
    for result in results:
        if result.verdict is not None:
            validator.merge(result.verdict)
            result.verdict = None
        else:
            validator.file(result)
        result.drop_cells()
        files.append(result)
    if isinstance(results, InboxStream):
        results.judge = None  # the validator and its unit x indicator tables go with `finish`, whoever keeps the stream
    validated = validator.finish()
    validated.files = files
    return validated


__all__ = ["Validated", "validate", "validate_stream", "parse_value", "count_errors"]
