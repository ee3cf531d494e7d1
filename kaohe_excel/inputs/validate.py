"""Judge what was read against the scheme: which files count, which values are usable.

Never raises on bad data: every problem becomes an `Issue` naming the file, sheet and
cell, the unit and indicator, and telling the unit what to do. What a person typed is
normalized where the meaning is clear (full-width digits, thousands separators, a
trailing unit, "85.3%") and each such repair is recorded as a 警告.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
import pandas as pd

from kaohe_excel.inputs import appeal
from kaohe_excel.base import origin
from kaohe_excel.inputs.crosscheck import VERIFIED_COLUMNS, empty_verified
from kaohe_excel.base.memory import release_unused
from kaohe_excel.base.issues import Issue, IssueCode, Severity, count_errors, error, issues_frame, warning
from kaohe_excel.inputs.read import (
    KIND_APPEAL,
    KIND_ASSESSMENT,
    KIND_LEAD,
    KIND_UNIT,
    Cell,
    FileResult,
    FormulaWithoutValue,
    InboxStream,
    ReadResult,
    Row,
)
from kaohe_excel.inputs.rating_read import RATING_KINDS
from kaohe_excel.inputs.rating_validate import RatingCollector
from kaohe_excel.scheme.workbook import Scheme
from kaohe_excel.base.tables import clean_text, display_text
from kaohe_excel.inputs import value_guard
from kaohe_excel.base.xlsx_meta import Formatted, Withheld
from kaohe_excel.inputs.number_text import COUNT_UNITS, ERROR_VALUES, KNOWN_UNIT_TAILS, Parsed, _formula_problem, _plain, _SPACE, parse_value  # noqa: F401

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
OFFICE_KIND_LABELS = {KIND_ASSESSMENT: "评定表", KIND_LEAD: "牵头单位核定表", KIND_APPEAL: "复核登记表",
                      # w-rating: the 测评 workbooks are office kinds too (a 校验码 is required)
                      **{kind: kind for kind in RATING_KINDS}}


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


class _Validator:
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
        if result.kind in RATING_KINDS or result.kind == KIND_APPEAL:
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
    def add(self, issue: Issue) -> None:
        self.issues.append(issue)

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
        if result.kind in RATING_KINDS:
            status = self.rating.file(result) if self.rating is not None else "rejected"
            if self.rating is None:
                self.add(error(IssueCode.rating_unknown, "考核方案中没有测评，此测评表未采用", file=result.name))
            self.submission(result, "", status)
            return
        if result.kind == KIND_UNIT:
            self.unit_file(result, proven)
        elif result.kind == KIND_LEAD:
            self.lead_workbook(result)
        elif result.kind == KIND_APPEAL:
            self.submission(result, "", "read")
            self.appeal_files.append((result.name, appeal.judge(result, self), self.submissions[-1]))
        else:
            self.assessment_workbook(result)
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
        label = OFFICE_KIND_LABELS.get(result.kind)
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
            how = ("由考核办用 kaohe template --lead 生成并下发的核定表" if result.kind == KIND_LEAD
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
        if fingerprint and fingerprint != self.scheme.fingerprint and result.kind == KIND_UNIT:
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

    def unit_file(self, result: FileResult, proven: bool = True) -> None:
        name = result.name
        header_cell = result.header.get("单位代码")
        header_code = clean_text(header_cell.value) if header_cell else ""
        unit_code = result.meta.get("单位代码") or header_code
        where = {"file": name, "unit": unit_code}
        if header_cell is not None and header_code and unit_code and header_code != unit_code:
            self.add(error(IssueCode.unit_mismatch,
                           f"表头单位代码「{header_code}」与模板所属单位「{unit_code}」不一致，请使用本单位的模板",
                           sheet=header_cell.sheet, cell=header_cell.cell, **where))
            self.submission(result, unit_code, "rejected")
            return
        if unit_code not in self.unit_names:
            cell = {"sheet": header_cell.sheet, "cell": header_cell.cell} if header_cell else {}
            self.add(error(IssueCode.unknown_unit, f"单位代码「{unit_code}」不在考核方案的单位名单中，请使用考核办下发的本单位模板", **cell, **where))
            self.submission(result, unit_code, "rejected")
            return
        self.submission(result, unit_code, "read")
        self.begin_candidate(("unit", unit_code), result, proven)
        expected_rows = self.expected_self.get(unit_code, {})
        seen: set[str] = set()
        for row in result.rows:
            code = clean_text(row.value_of("指标代码"))
            value_cell = row["实际完成值"]
            if not code:
                self.add(error(IssueCode.unknown_indicator, "指标代码被删除，无法确定此行是哪个指标，请恢复模板原样后重填", **_at(row["指标代码"], unit_code, name)))
                continue
            if code not in self.indicator_codes:
                self.add(error(IssueCode.unknown_indicator, f"指标代码「{code}」不存在（可能被修改），请恢复模板原样后重填", indicator=code, **_at(row["指标代码"], unit_code, name)))
                continue
            if code not in expected_rows:
                # Templates made elsewhere may list every indicator; a row only matters when something was typed.
                typed = value_cell is not None and bool(clean_text(value_cell.value))
                if (unit_code, code) in self.exempt_pairs or (unit_code, code) in self.expected_assessed:
                    if typed:
                        why = "本单位不考核" if (unit_code, code) in self.exempt_pairs else "由考核办（牵头单位）评定"
                        self.add(warning(IssueCode.not_applicable_indicator, f"指标「{code}」{why}，填写内容已忽略",
                                         indicator=code, **_at(value_cell, unit_code, name)))
                elif typed:
                    self.add(error(IssueCode.not_applicable_indicator,
                                   f"指标「{code}」不属于本单位的考核指标（可能误改了指标代码），请恢复模板原样后重填", indicator=code, **_at(row["指标代码"], unit_code, name)))
                else:
                    self.add(warning(IssueCode.not_applicable_indicator, f"指标「{code}」不属于本单位的考核指标，此行未填写，已忽略",
                                     indicator=code, **_at(row["指标代码"], unit_code, name)))
                continue
            if code in seen:
                self.add(error(IssueCode.duplicate_indicator, f"指标「{code}」出现了多行，请删除重复行", indicator=code, **_at(row["指标代码"], unit_code, name)))
                continue
            seen.add(code)
            spec = expected_rows[code]
            self.check_target(row, spec, name, unit_code, code)
            if (row.value_of("指标名称") != spec["name"] or row.value_of("计量单位") != spec["measure_unit"]) and self.contradicts(
                    result, row, "实际完成值", unit_code, code,
                    (("指标名称", spec["name"], "指标名称"), ("计量单位", spec["measure_unit"], "计量单位"))):
                value_cell = row["实际完成值"]
            self.value(unit_code, code, spec, value_cell, name, row.value_of("佐证材料"), row.value_of("备注"))
        for code, spec in expected_rows.items():
            if code not in seen:
                self.add(error(IssueCode.missing_indicator, f"指标「{code} {spec['name']}」的行被删除，请使用原模板重新填报",
                               file=name, sheet=_sheet_of(result), unit=unit_code, indicator=code))
        for claim in result.claims:
            other = claim.get("单位代码")  # w-redteam: a unit claims for itself only
            if other is not None and clean_text(other.value) not in ("", unit_code):
                self.add(error(IssueCode.unit_mismatch,
                               f"加扣分行的单位代码「{clean_text(other.value)}」不是本单位「{unit_code}」，此行未计分；"
                               "单位只能为本单位申报加分，请删除此行或把单位代码改为本单位", **_at(other, unit_code, name)))
                continue
            self.claim(claim, unit_code, name, recorded_by="unit")

    def contradicts(self, result: FileResult, row: Row, input_name: str, unit_code: str, code: str,
                    checks: tuple[tuple[str, str, str], ...]) -> bool:
        """A row whose name or unit contradicts its codes (codes swapped, so a figure would
        be scored under another indicator or unit): an 错误 at that cell, the row's input
        withheld (True). From a template of an earlier scheme edit, where a name may have
        been corrected since, only a name that is another indicator's is an error."""
        earlier = bool(result.meta.get("方案指纹")) and result.meta.get("方案指纹") != self.scheme.fingerprint
        for column, expected, label in checks:
            typed = row.value_of(column)
            reason = value_guard.contradiction(label, typed, expected)
            if reason is None:
                continue
            cell = row[column]
            at = {"file": result.name, "sheet": cell.sheet, "cell": cell.cell, "unit": unit_code, "indicator": code}
            if earlier and clean_text(typed) not in self.names_in_use:
                self.add(warning(IssueCode.code_name_mismatch, f"{reason}；模板由考核方案的较早版本生成，按指标代码计分，请核实", **at))
                continue
            self.add(error(IssueCode.code_name_mismatch,
                           f"{reason}，此行的{input_name}未计分；请恢复模板原样，或使用考核办下发的模板重新填报", **at))
            row.set(input_name, Withheld(row.value_of(input_name)))
            return True
        return False

    def check_target(self, row: Row, spec, file: str, unit_code: str, code: str) -> None:
        raw = row.value_of("目标值")
        if raw is None or spec["method"] == "定性" or raw == spec["target"] or not clean_text(raw):
            return  # the template's own target (the usual case) needs no parsing
        cell = row["目标值"]
        typed = parse_value(raw, spec["measure_unit"]).value
        target = spec["target"]
        if not math.isnan(target) and not math.isnan(typed) and abs(typed - target) > 1e-9 * max(1.0, abs(target)):
            self.add(warning(IssueCode.edited_locked_cell,
                             f"目标值被改为 {_plain(typed)}，按考核方案的目标值 {_plain(target)} 计分",
                             file=file, sheet=cell.sheet, cell=cell.cell, unit=unit_code, indicator=code))

    def value(self, unit_code: str, code: str, spec, cell: Cell, file: str, evidence: object, note: object,
              label: str = "实际完成值", into: list[dict] | None = None) -> None:
        """Judge one input cell; `evidence` and `note` are raw values (None: no such column)."""
        at = {"file": file, "sheet": cell.sheet, "cell": cell.cell, "unit": unit_code, "indicator": code}
        name = spec["name"]
        raw = cell.value
        if isinstance(raw, Withheld):  # the office cannot see this cell: never scored
            if raw.problem is not None:
                self.add(error(raw.problem[0], f"指标「{name}」的{label}{raw.problem[1]}", **at))
            parsed = Parsed()
        elif raw.__class__ is Formatted and spec["method"] != "定性":
            parsed = self.parse_formatted(raw, spec)
        else:
            parsed = self.parse(raw, spec)
        if parsed.problem:
            issue_code, text = parsed.problem
            if issue_code == IssueCode.missing_value:
                text = f"指标「{name}」的{label}未填写，请补填"
            else:
                text = f"指标「{name}」的{label}{text}"
            self.add(error(issue_code, text, **at))
        elif parsed.repaired:
            self.add(warning(parsed.repaired_code or IssueCode.normalized_value, f"指标「{name}」的{label}{parsed.repaired}", **at))
        unscored = parsed.problem is not None or isinstance(raw, Withheld)
        if not unscored and parsed.text is None:
            unscored = self.check_range(parsed.value, spec, at, label)
        if into is None:  # a row of VALUE_COLUMNS: a tuple pickles and becomes a frame faster than a dict
            self.values.append((unit_code, code, parsed.value, parsed.text, display_text(evidence), display_text(note),
                                file, cell.sheet, at["cell"], unscored))
            return
        into.append({
            "unit_code": unit_code, "indicator_code": code, "value": parsed.value, "text_value": parsed.text,
            "evidence": display_text(evidence), "note": display_text(note),
            "file": file, "sheet": cell.sheet, "cell": at["cell"], "unscored": unscored,
        })

    def parse_formatted(self, raw: Formatted, spec) -> Parsed:
        number, text = value_guard.formatted(raw, spec["measure_unit"], spec["target"])
        code = value_guard.formatted_code(raw)  # w-redteam: a formula's cached result is not a format
        if number is None:
            return Parsed(problem=(code, text))
        if text:
            return Parsed(value=number, repaired=text, repaired_code=code)
        return Parsed(value=number)

    def parse(self, raw: object, spec) -> Parsed:
        if spec["method"] != "定性" or isinstance(raw, FormulaWithoutValue):
            return parse_value(raw, spec["measure_unit"])
        text = clean_text(raw)
        if _SPACE.sub("", text).upper() in ERROR_VALUES:
            return parse_value(text)
        levels = self.grades.get(spec["tier_table"], set())
        if not text:
            return Parsed(problem=(IssueCode.missing_value, "未填写"))
        if text not in levels:
            return Parsed(problem=(IssueCode.invalid_grade, f"「{text}」不是可选等级，应为：{'、'.join(sorted(levels))}"))
        return Parsed(text=text)

    def check_range(self, value: float, spec, at: dict, label: str = "实际完成值") -> bool:
        """Plausibility: True when the value is impossible (an error), warnings otherwise."""
        name, measure_unit, target = spec["name"], spec["measure_unit"], spec["target"]
        # a 核定值 or 复核值 says which value it is
        subject = f"指标「{name}」" if label == "实际完成值" else f"指标「{name}」的{label}"
        if value < 0 and (measure_unit in COUNT_UNITS or spec["method"] == "扣分"):
            self.add(error(IssueCode.out_of_range, f"{subject}是计数（{measure_unit or '次数'}），不能为负数 {_plain(value)}，请核实", **at))
            return True
        if not -value_guard.TARGET_FLOOR <= value <= value_guard.TARGET_FLOOR or not math.isfinite(value):
            reason = value_guard.implausible(value, spec) if math.isfinite(value) else value_guard.non_finite(_plain(value))
            if reason:
                code = IssueCode.implausible_value if math.isfinite(value) else IssueCode.non_finite_value
                self.add(error(code, f"{subject}{reason}", **at))
                return True
        reason = value_guard.fractional_count(value, spec)
        if reason:
            self.add(error(IssueCode.invalid_count, f"{subject}{reason}", **at))
            return True
        if measure_unit == "%":
            if 0 < abs(value) <= 1 and not math.isnan(target) and target > 1:
                self.add(warning(IssueCode.percent_scale,
                                 f"{subject}填写 {_plain(value)}，目标值为 {_plain(target)}%，是否未乘100？百分比指标请填百分数数值（如 85.3 表示 85.3%）", **at))
            elif value > 100 and (math.isnan(target) or target <= 100):
                self.add(warning(IssueCode.out_of_range, f"{subject}为 {_plain(value)}%，超过100%，请核实", **at))
        return False

    def claim(self, row: Row, unit_code: str, file: str, recorded_by: str) -> None:
        code_cell = row["项目代码"]
        code = clean_text(code_cell.value)
        at = {"file": file, "sheet": code_cell.sheet, "cell": code_cell.cell, "unit": unit_code}
        if not code:
            self.add(error(IssueCode.unknown_adjustment, "加扣分行填写了内容但没有选择项目代码，请从下拉列表选择", **at))
            return
        if code not in self.catalogue:
            self.add(error(IssueCode.unknown_adjustment, f"加扣分项目代码「{code}」不在考核方案的加扣分目录中，请从下拉列表选择", **at))
            return
        item = self.catalogue[code]
        if recorded_by == "unit" and item["kind"] != "bonus":
            self.add(error(IssueCode.adjustment_not_claimable, f"「{item['name']}」是{'扣分' if item['kind'] == 'deduction' else '否决'}项目，由考核办记录，单位不能自行申报", **at))
            return
        count_cell = row["数量"]
        count_at = {**at, "cell": count_cell.cell}
        if not isinstance(count_cell.value, (Withheld, FormulaWithoutValue)) and count_cell.value.__class__ is not Formatted \
                and not clean_text(count_cell.value):
            count = 1.0
            self.add(warning(IssueCode.invalid_count, f"「{item['name']}」未填写数量，按 1 项计", **count_at))
        else:
            count = self.count(count_cell.value, item, recorded_by, count_at)
            if count is None:
                return
        evidence_cell = row.get("佐证材料")
        evidence = display_text(evidence_cell.value) if evidence_cell else ""
        if recorded_by == "unit" and bool(item["needs_evidence"]) and not evidence:
            cell = evidence_cell.cell if evidence_cell else code_cell.cell
            self.add(error(IssueCode.missing_evidence, f"「{item['name']}」须提供佐证材料（文件名或文号），请在「佐证材料」列填写", **{**at, "cell": cell}))
            return
        description = row.get("事项说明")
        self.claims.append({"unit_code": unit_code, "item_code": code, "count": count,
                            "description": display_text(description.value) if description else "", "evidence": evidence,
                            "file": file, "sheet": code_cell.sheet, "cell": code_cell.cell, "recorded_by": recorded_by})

    def count(self, raw: object, item: dict, recorded_by: str, at: dict, label: str = "数量", zero_ok: bool = False) -> float | None:
        """The 数量 of a 加扣分 item, or None after adding its 错误 (one wording for a unit's claim,
        the office's record and a 复核值). The office may record fractions (0.5 points lost upstream,
        charged ×10); a unit claims whole items; a 复核 may set 0 to remove the item."""
        name = item["name"]
        if isinstance(raw, Withheld):
            if raw.problem is not None:
                self.add(error(raw.problem[0], f"「{name}」的{label}{raw.problem[1]}", **at))
            return None
        if raw.__class__ is Formatted:
            self.add(error(IssueCode.number_format,
                           f"「{name}」的{label}单元格设置了「{raw.code}」格式，显示的数与所填的 {_plain(raw)} 不同；"
                           f"请将单元格格式改为“常规”后填写项数", **at))
            return None
        if isinstance(raw, FormulaWithoutValue):
            self.add(error(IssueCode.formula_without_value, f"「{name}」的{label}{_formula_problem(raw)[1]}", **at))
            return None
        text = clean_text(raw)
        parsed = parse_value(raw)
        whole = recorded_by == "office" or float(parsed.value).is_integer()
        low = parsed.value < 0 if zero_ok else parsed.value <= 0
        if parsed.problem or low or not whole or not math.isfinite(parsed.value):
            if zero_ok:
                rule = "不小于0的数" if recorded_by == "office" else "不小于0的整数"
            else:
                rule = "正数" if recorded_by == "office" else "正整数"
            self.add(error(IssueCode.invalid_count, f"「{name}」的{label}「{text}」应为{rule}" + ("（填0表示取消此项）" if zero_ok else ""), **at))
            return None
        if parsed.value > value_guard.COUNT_LIMIT:
            self.add(error(IssueCode.implausible_value,
                           f"「{name}」的{label}「{text}」超过 {value_guard.COUNT_LIMIT:.0f}，不合常理，请核实后填写", **at))
            return None
        return parsed.value

    def assessment_workbook(self, result: FileResult) -> None:
        name = result.name
        self.submission(result, "", "read")
        self.begin_candidate(("assessment", ""), result, True)
        seen: set[tuple[str, str]] = set()
        for row in result.rows:
            unit_cell, code_cell, value_cell = row["单位代码"], row["指标代码"], row["评定值"]
            unit_code, code = clean_text(unit_cell.value), clean_text(code_cell.value)
            at = {"file": name, "sheet": unit_cell.sheet, "cell": unit_cell.cell, "unit": unit_code, "indicator": code}
            if unit_code not in self.unit_names:
                self.add(error(IssueCode.unknown_unit, f"评定表中的单位代码「{unit_code}」不在单位名单中", **at))
                continue
            if (unit_code, code) not in self.expected_assessed:
                if code not in self.indicator_codes:
                    self.add(error(IssueCode.unknown_indicator, f"评定表中的指标代码「{code}」不存在", **{**at, "cell": code_cell.cell}))
                elif (unit_code, code) in self.exempt_pairs:
                    self.add(warning(IssueCode.not_applicable_indicator, f"单位「{unit_code}」的指标「{code}」不考核，评定值已忽略", **at))
                else:
                    self.add(error(IssueCode.not_applicable_indicator, f"指标「{code}」不是单位「{unit_code}」的评定类指标", **{**at, "cell": code_cell.cell}))
                continue
            if (unit_code, code) in seen:
                self.add(error(IssueCode.duplicate_indicator, f"单位「{unit_code}」的指标「{code}」在评定表中重复", **at))
                continue
            seen.add((unit_code, code))
            spec = self.expected_assessed[(unit_code, code)]
            if self.contradicts(result, row, "评定值", unit_code, code,
                                (("单位名称", self.unit_names[unit_code], "单位名称"), ("指标名称", spec["name"], "指标名称"))):
                value_cell = row["评定值"]
            self.value(unit_code, code, spec, value_cell, name, None, row.value_of("说明"), label="评定值")
        for unit_code, code in self.expected_assessed:
            if (unit_code, code) not in seen:
                self.add(error(IssueCode.missing_value, f"评定表缺少单位「{unit_code}」指标「{code}」的评定值，请补充",
                               file=name, sheet="评定", unit=unit_code, indicator=code))
        for claim in result.claims:
            unit_cell = claim.get("单位代码")
            unit_code = clean_text(unit_cell.value) if unit_cell else ""
            if unit_code not in self.unit_names:
                code_cell = claim["项目代码"]
                self.add(error(IssueCode.unknown_unit, f"加扣分记录的单位代码「{unit_code}」不在单位名单中",
                               file=name, sheet=code_cell.sheet, cell=unit_cell.cell if unit_cell else code_cell.cell))
                continue
            self.claim(claim, unit_code, name, recorded_by="office")

    def lead_workbook(self, result: FileResult) -> None:
        """A lead department's 核定表: its verified values for the 自报 indicators it leads.
        A blank 核定值 is kept as NaN: the crosscheck lists it, the unit's own value is scored."""
        name = result.name
        lead = result.meta.get("牵头单位", "")
        if lead not in self.led:
            text = (f"核定表的牵头单位「{lead}」在考核方案中没有牵头的自报指标" if lead else "核定表缺少牵头单位标识")
            self.add(error(IssueCode.not_our_template, f"{text}，请使用考核办下发的本部门核定表", file=name))
            self.submission(result, "", "rejected")
            return
        self.submission(result, "", "read")
        self.submissions[-1]["unit_name"] = lead
        self.begin_candidate(("lead", lead), result, True)
        seen: set[tuple[str, str]] = set()
        for row in result.rows:
            unit_cell, code_cell, value_cell = row["单位代码"], row["指标代码"], row["核定值"]
            unit_code, code = clean_text(unit_cell.value), clean_text(code_cell.value)
            at = {"file": name, "sheet": unit_cell.sheet, "cell": unit_cell.cell, "unit": unit_code, "indicator": code}
            code_at = {**at, "cell": code_cell.cell}
            if unit_code not in self.unit_names:
                self.add(error(IssueCode.unknown_unit, f"核定表中的单位代码「{unit_code}」不在单位名单中", **at))
                continue
            if code not in self.indicator_codes:
                self.add(error(IssueCode.unknown_indicator, f"核定表中的指标代码「{code}」不存在", **code_at))
                continue
            if code not in self.led[lead]:
                actual = self.lead_of.get(code) or "未指定"
                self.add(error(IssueCode.not_applicable_indicator,
                               f"指标「{code}」不是{lead}牵头的自报指标（牵头单位：{actual}），核定值未采用", **code_at))
                continue
            spec = self.expected_self.get(unit_code, {}).get(code)
            if spec is None:
                if (unit_code, code) in self.exempt_pairs:
                    self.add(warning(IssueCode.not_applicable_indicator, f"单位「{unit_code}」的指标「{code}」不考核，核定值已忽略", **at))
                else:
                    self.add(error(IssueCode.not_applicable_indicator, f"指标「{code}」不是单位「{unit_code}」的考核指标", **code_at))
                continue
            if (unit_code, code) in seen:
                self.add(error(IssueCode.duplicate_indicator, f"单位「{unit_code}」的指标「{code}」在核定表中重复", **at))
                continue
            seen.add((unit_code, code))
            if self.contradicts(result, row, "核定值", unit_code, code,
                                (("单位名称", self.unit_names[unit_code], "单位名称"), ("指标名称", spec["name"], "指标名称"))):
                value_cell = row["核定值"]
            note = row.value_of("说明")
            record = {"unit_code": unit_code, "indicator_code": code, "verified_value": math.nan, "verified_text": None,
                      "lead_unit": lead, "note": clean_text(note), "file": name,
                      "sheet": value_cell.sheet, "cell": value_cell.cell}
            if isinstance(value_cell.value, FormulaWithoutValue) or clean_text(value_cell.value):
                parsed: list[dict] = []
                self.value(unit_code, code, spec, value_cell, name, None, note, label="核定值", into=parsed)
                if not parsed[0]["unscored"]:
                    record["verified_value"], record["verified_text"] = parsed[0]["value"], parsed[0]["text_value"]
            self.verified.append(record)

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


def _at(cell: Cell, unit_code: str, file: str) -> dict:
    """Where an issue points; built only for an issue, addresses cost time over every row."""
    return {"sheet": cell.sheet, "cell": cell.cell, "unit": unit_code, "file": file}


def _sheet_of(result: FileResult) -> str:
    return result.rows[0]["指标代码"].sheet if result.rows else "填报"


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
    validated = validator.finish()
    validated.files = files
    return validated


__all__ = ["Validated", "validate", "validate_stream", "parse_value", "count_errors"]
