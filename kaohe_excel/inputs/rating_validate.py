"""Judging 测评 files against the scheme, then computing each unit's 测评 value.

`RatingCollector.file` takes one read 测评 file (its origin already proven by validate);
raw marks are gathered as plain lists and parsed all at once in `finish`, which returns the
value rows for validate's values frame and the tables the outputs show.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kaohe_excel.scoring import rating_score
from kaohe_excel.base.issues import IssueCode, error, warning
from kaohe_excel.base.layout import BALLOT_FILE_TYPE, PAPER_FILE_TYPE, TALLY_FILE_TYPE
from kaohe_excel.scheme.rating_scheme import COLLECT_ELECTRONIC, COLLECT_PAPER, COLLECT_TALLY
from kaohe_excel.base.read_rows import FormulaWithoutValue
from kaohe_excel.base.tables import cell_address, clean_text
from kaohe_excel.base.xlsx_meta import Formatted, Withheld

KIND_OF_COLLECT = {COLLECT_ELECTRONIC: BALLOT_FILE_TYPE, COLLECT_PAPER: PAPER_FILE_TYPE, COLLECT_TALLY: TALLY_FILE_TYPE}
STATUS_ZH = {rating_score.STATUS_BLANK: "空白票", rating_score.STATUS_VOID_TOP: "作废（超过每票优秀上限）",
             rating_score.STATUS_VOID_SAME: "作废（全部评价相同）", "duplicate": "票号重复，未计入"}


@dataclass
class RatingOutcome:
    ballots: pd.DataFrame  # judged ballots (status), no rater named: a ballot is its file or 票号
    stats: pd.DataFrame  # per evaluation × group × unit
    values: pd.DataFrame  # per evaluation × unit
    participation: pd.DataFrame
    problems: pd.DataFrame = field(default_factory=pd.DataFrame)  # ballots with an erroneous mark


def _ballot_number(value: object) -> str:
    text = clean_text(value)
    try:
        number = float(text)
        if number.is_integer():
            return str(int(number))
    except ValueError:
        pass
    return text


def _in_range(number: str, expected: float) -> bool:
    return number.isdigit() and int(number) >= 1 and not (expected == expected and int(number) > expected)


def _range_text(expected: float) -> str:
    return f"1–{int(expected)} 的整数" if expected == expected else "正整数"


def _out_of_range(expected: float) -> str:
    return f"不是 1–{int(expected)} 的整数（应参评人数 {int(expected)}）" if expected == expected else "不是正整数"


def _cell_problem(raw: object) -> tuple[IssueCode, str] | None:
    """Why a counted cell cannot be read as typed, whatever the evaluation: hidden, a formula
    without a result, a number whose format shows it otherwise."""
    kind = raw.__class__
    if kind is Withheld:
        return raw.problem  # None: the whole table is withheld, the reader said so
    if kind is FormulaWithoutValue:
        shown = f"（公式 {raw.formula}）" if raw.formula else ""
        return (IssueCode.formula_without_value,
                f"是公式但没有计算结果{shown}，请在 Excel 或 WPS 中打开此文件、确认后保存再报送（或直接填写）")
    if kind is Formatted:
        return (IssueCode.number_format,
                f"的单元格数字格式（{raw.code}）使显示的内容与所存数值 {float(raw):g} 不同，无法确定所填的评价；"
                "请将单元格格式改为“常规”后重新填写")
    return None


def _score_text(raw: str) -> tuple[float, str]:
    """A 打分 mark typed as text, read like a unit's number text (全角 digits, a trailing 分):
    (the number, or NaN when it is none; the 警告 text when it was normalized)."""
    from kaohe_excel.inputs.number_text import parse_value

    if clean_text(raw).endswith(("%", "‰")):  # 90% of what: the mark, or 满分? never guessed
        return math.nan, ""
    parsed = parse_value(raw, "分")
    if parsed.problem is not None:
        return math.nan, ""
    return parsed.value, parsed.repaired or ""


def _votes(raw: object) -> tuple[int | None, str, tuple[IssueCode, str] | None]:
    """A tally cell: (votes, the 警告 text when normalized, or the problem); blank is 0 votes."""
    from kaohe_excel.inputs.number_text import parse_value

    problem = _cell_problem(raw)
    if problem is not None:
        return None, "", problem
    if raw.__class__ is Withheld:  # the whole table: its file is rejected before counts are read
        return None, "", (IssueCode.hidden_cells, "未计入（本表有隐藏的行或列）")
    if raw is None or (raw.__class__ is str and not raw.strip()):
        return 0, "", None
    if isinstance(raw, bool):
        return None, "", (IssueCode.not_a_number, f"是逻辑值 {raw}，应为不小于0的整数")
    parsed = parse_value(raw, "票")
    if parsed.problem is not None:
        code, text = parsed.problem
        return None, "", (code, f"「{clean_text(raw)}」不是票数，应为不小于0的整数" if code == IssueCode.not_a_number else text)
    number = parsed.value
    if not math.isfinite(number):
        return None, "", (IssueCode.non_finite_value, f"「{clean_text(raw)}」不是有限数，应为不小于0的整数")
    if raw.__class__ is str and clean_text(raw).endswith(("%", "‰")):
        return None, "", (IssueCode.invalid_count, f"「{clean_text(raw)}」是百分数，应为不小于0的整数（票数）")
    if number < 0 or not float(number).is_integer():
        return None, "", (IssueCode.invalid_count, f"为 {number:g}，票数应为不小于0的整数")
    return int(number), parsed.repaired or "", None


def _table_withheld(result) -> bool:
    """The reader withheld every counted cell (a hidden column, a doubled header) and said so."""
    return any(v.__class__ is Withheld and v.problem is None for row in result.rows[:1] for v in row.values)


def _place(file: str, sheet: str, cell: str) -> str:
    """Where a ballot is: its file, and for a paper ballot the entry row's 票号 cell."""
    return f"{file} {sheet}!{cell}" if cell else file


def _categorical(values: list) -> pd.Categorical:
    """pd.Categorical(values) without first building an Arrow string array of every row."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object))
    return pd.Categorical.from_codes(codes, categories=pd.Index(uniques, dtype=object))


class RatingCollector:
    def __init__(self, scheme, add):
        self.scheme = scheme
        self.add = add
        self.ratings = {r["rating_code"]: r for r in scheme.ratings.to_dict("records")}
        self.raters = {(r["rating_code"], r["rater_group"]): r for r in scheme.raters.to_dict("records")}
        self.group_of = dict(zip(scheme.units["unit_code"], scheme.units["group"]))
        groups = list(dict.fromkeys(scheme.units["group"]))
        self.rated = {key: set(groups if isinstance(r["targets"], str) else r["targets"]) for key, r in self.raters.items()}
        # raw marks, column-wise: parsed together in finish
        self.m_rating: list[str] = []
        self.m_group: list[str] = []
        self.m_ballot: list[str] = []
        self.m_unit: list[str] = []
        self.m_raw: list[object] = []
        self.m_file: list[str] = []
        self.m_sheet: list[str] = []
        self.m_cell: list[tuple[int, int]] = []
        self.ballots: list[dict] = []
        self.tallies: list[dict] = []
        self.tally_files: dict[tuple, list[str]] = {}
        self.paper_files: dict[tuple, list[str]] = {}
        self.m_repaired: list[int] = []  # positions of 打分 marks typed as text, checked in finish

    def identity(self, result) -> tuple[dict, dict] | None:
        code, group = result.meta.get("测评代码", ""), result.meta.get("测评人类别", "")
        rating, rater = self.ratings.get(code), self.raters.get((code, group))
        if rating is None or rater is None or KIND_OF_COLLECT.get(rater["collect"]) != result.kind:
            self.add(error(IssueCode.rating_unknown,
                           f"此{result.kind}属于测评「{code}」的测评人类别「{group}」，考核方案中没有这样的{result.kind}"
                           "（测评或收集方式已调整），未采用。请用 kaohe template 重新生成测评表", file=result.name))
            return None
        return rating, rater

    def check_unit(self, unit: str, key: tuple, at: dict) -> bool:
        if unit not in self.group_of:
            self.add(error(IssueCode.unknown_unit, f"测评表中的单位代码「{unit}」不在单位名单中，此列（行）评价未计入", **at))
            return False
        if self.group_of[unit] not in self.rated[key]:
            self.add(error(IssueCode.rating_not_rated,
                           f"单位「{unit}」（{self.group_of[unit]}）不是测评人类别「{key[1]}」的评价对象，评价未计入", unit=unit, **at))
            return False
        return True

    def file(self, result) -> str:
        found = self.identity(result)
        if found is None:
            return "rejected"
        if _table_withheld(result):
            return "rejected"  # nothing of it can be seen as typed: the reader's 错误 names the cell
        rating, rater = found
        key = (rating["rating_code"], rater["rater_group"])
        if result.kind == BALLOT_FILE_TYPE:
            return self.ballot_file(result, key, rater)
        if result.kind == PAPER_FILE_TYPE:
            return self.paper_file(result, key, rater)
        return self.tally_file(result, key, rating, rater)

    def ballot_file(self, result, key, rater) -> str:
        name = result.name
        ballot = _ballot_number(result.meta.get("票号", ""))
        if not _in_range(ballot, rater["expected"]):
            self.add(error(IssueCode.rating_ballot_out_of_range,
                           f"此测评票的票号「{ballot or '（空）'}」{_out_of_range(rater['expected'])}，整张票未计入。"
                           "请用 kaohe template 按现行考核方案重新生成测评票", file=name))
            return "rejected"
        units = 0
        for row in result.rows:
            unit_cell = row["单位代码"]
            unit = clean_text(unit_cell.value)
            mark = row.get("评价")
            units += 1
            if not self.check_unit(unit, key, {"file": name, "sheet": unit_cell.sheet, "cell": unit_cell.cell}):
                continue
            self.mark(key, ballot, unit, mark.value if mark else "", name, unit_cell.sheet, row.row, mark.col if mark else 0)
        self.ballots.append({"rating_code": key[0], "rater_group": key[1], "ballot": ballot, "units": units, "file": name,
                             "sheet": "", "cell": ""})
        return "read"

    def paper_file(self, result, key, rater) -> str:
        name = result.name
        self.paper_files.setdefault(key, []).append(name)
        expected = rater["expected"]
        columns = [(text, pos) for text, pos in result.rows[0].layout.columns.items() if text != "票号"] if result.rows else []
        good = []
        for text, (position, col) in columns:
            header = result.header.get(text)
            at = {"file": name, "sheet": header.sheet if header else "", "cell": header.cell if header else ""}
            if self.check_unit(text, key, at):
                good.append((text, position, col))
        for row in result.rows:
            number_cell = row["票号"]
            at = {"file": name, "sheet": number_cell.sheet, "cell": number_cell.cell}
            # a cell withheld for its hidden row (not for its own format: that mark alone is an 错误)
            hidden = next((i for i, v in enumerate(row.values) if v.__class__ is Withheld and v.problem is not None
                           and v.problem[0] == IssueCode.hidden_cells), None)
            if hidden is not None:  # a hidden row: the whole paper ballot is out of sight
                cell = cell_address(row.row, next(c for p, c in row.layout.columns.values() if p == hidden))
                self.add(error(IssueCode.hidden_cells,
                               f"第 {row.row + 1} 行被隐藏，考核办看不到这张纸质票，整张票未计入；请取消隐藏后重新报送",
                               file=name, sheet=row.layout.sheet, cell=cell))
                continue
            problem = _cell_problem(number_cell.value)
            if problem is not None:
                self.add(error(problem[0], f"票号{problem[1]}，这张票未计入", **at))
                continue
            ballot = _ballot_number(number_cell.value)
            if not ballot:
                self.add(error(IssueCode.rating_ballot_number_missing,
                               f"第 {row.row + 1} 行填写了评价但没有票号，这张票未计入。请在 {number_cell.cell} 填写这张纸质票上印的票号"
                               f"（{_range_text(expected)}），每张纸质票录入一行", **at))
                continue
            if not _in_range(ballot, expected):
                self.add(error(IssueCode.rating_ballot_out_of_range,
                               f"票号「{clean_text(number_cell.value)}」{_out_of_range(expected)}，这张票未计入。"
                               "请核对纸质票上印的票号后重新填写", **at))
                continue
            for unit, position, col in good:
                self.mark(key, ballot, unit, row.values[position], name, row.layout.sheet, row.row, col)
            # a paper ballot is its entry row: located by the 票号 cell, as every other finding in a file
            self.ballots.append({"rating_code": key[0], "rater_group": key[1], "ballot": ballot, "units": len(columns),
                                 "file": name, "sheet": number_cell.sheet, "cell": number_cell.cell})
        return "read"

    def tally_file(self, result, key, rating, rater=None) -> str:
        name = result.name
        self.tally_files.setdefault(key, []).append(name)
        grades = dict(rating["grades"])
        top = rating["grades"][0][0] if rating["grades"] else ""
        for grade in grades:
            if grade not in result.header:
                self.add(error(IssueCode.missing_column, f"测评汇总表缺少等级「{grade}」的票数列，请使用下发的汇总表", file=name))
        for row in result.rows:
            unit_cell = row["单位代码"]
            unit = clean_text(unit_cell.value)
            if not self.check_unit(unit, key, {"file": name, "sheet": unit_cell.sheet, "cell": unit_cell.cell}):
                continue
            counts, wrong = [], False
            for grade, points in grades.items():
                cell = row.get(grade)
                if cell is None:
                    continue
                votes, repaired, problem = _votes(cell.value)
                at = {"file": name, "sheet": cell.sheet, "cell": cell.cell, "unit": unit}
                if problem is not None:
                    # one wrong count makes the unit's whole row unknowable: its mean is not taken from the rest
                    if not (wrong and problem[0] == IssueCode.hidden_cells):
                        self.add(error(problem[0], f"「{grade}」票数{problem[1]}；单位「{unit}」的各等级票数均未计入", **at))
                    wrong = True
                    continue
                if repaired:
                    self.add(warning(IssueCode.normalized_value, f"「{grade}」票数{repaired}", **at))
                counts.append({"rating_code": key[0], "rater_group": key[1], "unit_code": unit,
                               "votes": votes, "points": points, "top": grade == top, "file": name})
            expected = rater["expected"] if rater is not None else math.nan
            total = sum(count["votes"] for count in counts)
            if not wrong and expected == expected and total > expected:
                # more votes than raters: a row typed twice, or counts of another group
                self.add(error(IssueCode.rating_tally_excess,
                               f"单位「{unit}」的各等级票数合计 {total} 张，超过测评人类别「{key[1]}」的应参评人数 {int(expected)} 人，"
                               "各等级票数均未计入；请核对调查机构提供的票数后重新填写",
                               file=name, sheet=unit_cell.sheet, cell=unit_cell.cell, unit=unit))
                wrong = True
            if not wrong:
                self.tallies.extend(counts)
        return "read"

    def identical_ballots(self, valid: pd.DataFrame, ballots: pd.DataFrame) -> None:
        """A 警告 for valid ballots of one group with the very same marks on at least 3 units (a paper
        ballot typed twice under another 票号, a ballot file copied): both are counted, the office decides.
        Each ballot's marks are summed as mixed 64-bit hashes; only equal sums are compared exactly."""
        if len(valid) < 6:
            return
        keys = ["rating_code", "rater_group", "ballot"]
        ids = valid.groupby(keys, observed=True, sort=False).ngroup().to_numpy()
        units = pd.factorize(valid["unit_code"].astype(object))[0].astype(np.uint64)
        points = np.round(valid["points"].to_numpy(dtype=float) * 1000).astype(np.int64).astype(np.uint64)
        with np.errstate(over="ignore"):
            mixed = units * np.uint64(0x9E3779B97F4A7C15) + points + np.uint64(0x632BE59BD9B4E019)
            mixed ^= mixed >> np.uint64(31)
            mixed *= np.uint64(0xBF58476D1CE4E5B9)
            mixed ^= mixed >> np.uint64(29)
            sums = np.zeros(int(ids.max()) + 1, dtype=np.uint64)
            np.add.at(sums, ids, mixed)
        counts = np.bincount(ids)
        first = pd.Series(np.arange(len(ids))).groupby(ids).first().to_numpy()
        summary = valid.iloc[first][keys[:2]].astype(object).reset_index(drop=True)
        summary["sum"], summary["count"], summary["id"] = sums, counts, np.arange(len(counts))
        summary = summary[summary["count"] >= 3]
        twins = summary[summary.duplicated(["rating_code", "rater_group", "sum", "count"], keep=False)]
        if not len(twins):
            return
        rows = valid[np.isin(ids, twins["id"].to_numpy())]
        marks = {ballot_key: frozenset(zip(part["unit_code"].astype(object), part["points"]))
                 for ballot_key, part in rows.groupby(keys, observed=True, sort=False)}
        places = {(r.rating_code, r.rater_group, r.ballot): (r.file, _place(r.file, r.sheet, r.cell))
                  for r in ballots.itertuples(index=False)}
        same: dict[tuple, list] = {}
        for (code, group, ballot), found in marks.items():
            same.setdefault((code, group, found), []).append(ballot)
        for (code, group, found), numbers in same.items():
            if len(numbers) < 2:
                continue
            found_at = [places.get((code, group, n), ("", str(n))) for n in numbers]
            files = list(dict.fromkeys(file for file, _ in found_at))
            self.add(warning(IssueCode.rating_identical_ballots,
                             f"测评「{code}」{group}的票号 {'、'.join(map(str, numbers))} 对 {len(found)} 个单位的评价完全相同"
                             f"（{'、'.join(place for _, place in found_at)}），均已计入；如是同一张票重复录入或复制，"
                             "请删除多余的一份后重新运行", file="、".join(files)))

    def mark(self, key, ballot, unit, raw, file, sheet, row, col) -> None:
        kind = raw.__class__
        if kind is not str and kind is not float and raw is not None:
            problem = _cell_problem(raw)
            if problem is not None:
                said = problem[1] if "未计入" in problem[1] else f"{problem[1]}，此项评价未计入"
                self.add(error(problem[0], f"测评评价{said}", file=file, sheet=sheet, cell=cell_address(row, col), unit=unit))
                return
            if kind is Withheld:
                return
        self.m_rating.append(key[0])
        self.m_group.append(key[1])
        self.m_ballot.append(ballot)
        self.m_unit.append(unit)
        self.m_raw.append(raw)
        self.m_file.append(file)
        self.m_sheet.append(sheet)
        self.m_cell.append((row, col))

    # ------------------------------------------------------------------ finish
    def parsed_marks(self) -> pd.DataFrame:
        """Every mark parsed at once: points on the 100 scale, top grade, or why it is wrong."""
        # A city's 600,000 marks repeat a few hundred codes and a handful of grades: each distinct
        # raw value is cleaned and judged once per evaluation, the rows only take the result by code.
        rating = _categorical(self.m_rating)
        frame = pd.DataFrame({"rating_code": rating, "rater_group": _categorical(self.m_group),
                              "ballot": _categorical(self.m_ballot), "unit_code": _categorical(self.m_unit)})
        codes, uniques = pd.factorize(pd.Series(self.m_raw, dtype=object), use_na_sentinel=True)
        # code -1 (no value) indexes the last entry of every per-value array: "" / not given
        texts = pd.Series([clean_text(u) for u in uniques] + [""], dtype=object)
        given = (texts != "").to_numpy()
        number_of = repaired_of = None
        if any(r["mode"] != "grade" for r in self.ratings.values()):
            number_of = np.full(len(uniques) + 1, np.nan)
            repaired_of = np.full(len(uniques) + 1, "", dtype=object)
            for i, unique in enumerate(uniques):
                if unique.__class__ is str:
                    number_of[i], repaired_of[i] = _score_text(unique)
                elif isinstance(unique, (int, float)) and not isinstance(unique, bool):
                    number_of[i] = float(unique)
        size = len(codes)
        points = np.full(size, np.nan)
        top = np.zeros(size, dtype=bool)
        bad = np.full(size, "", dtype=object)
        repaired = np.full(size, "", dtype=object)
        for position, code in enumerate(rating.categories):
            rule = self.ratings.get(code)
            if rule is None:
                continue
            if rule["mode"] == "grade":
                grades = dict(rule["grades"])
                u_points = texts.map(grades).to_numpy(dtype=float)
                u_top = (texts == rule["grades"][0][0]).to_numpy()
                u_bad = np.where(given & np.isnan(u_points),
                                 ("「" + texts + "」不是可选等级，应为：" + "、".join(grades)).to_numpy(dtype=object), "")
                u_repaired = np.full(len(texts), "", dtype=object)
            else:
                full = float(rule["full"])
                with np.errstate(invalid="ignore"):
                    ok = (number_of >= 0) & (number_of <= full)
                    u_top = (number_of >= 0.9 * full - 1e-9) & ok
                u_points = np.where(ok, number_of * 100 / full, np.nan)
                u_bad = np.where(given & ~ok, ("「" + texts + f"」应为 0–{full:g} 之间的分数").to_numpy(dtype=object), "")
                u_repaired = np.where(given & ok, repaired_of, "")
            rows = np.flatnonzero(rating.codes == position)
            take = codes[rows]
            points[rows] = np.where(given, u_points, np.nan)[take]
            top[rows] = (given & u_top)[take]
            bad[rows] = u_bad[take]
            repaired[rows] = u_repaired[take]
        frame["points"] = points
        frame["top"] = top
        frame["bad"] = bad
        frame["repaired"] = repaired
        return frame

    def finish(self) -> tuple[RatingOutcome, list[dict]]:
        scheme = self.scheme
        marks = self.parsed_marks()
        for index in np.flatnonzero((marks["bad"] != "").to_numpy()):
            row, col = self.m_cell[index]
            self.add(error(IssueCode.invalid_grade, f"测评评价{marks['bad'].iat[index]}，此项评价未计入",
                           file=self.m_file[index], sheet=self.m_sheet[index], cell=cell_address(row, col),
                           unit=marks["unit_code"].iat[index]))
        for index in np.flatnonzero((marks["repaired"] != "").to_numpy()):
            row, col = self.m_cell[index]
            self.add(warning(IssueCode.normalized_value, f"测评评价{marks['repaired'].iat[index]}",
                             file=self.m_file[index], sheet=self.m_sheet[index], cell=cell_address(row, col),
                             unit=marks["unit_code"].iat[index]))
        ballots = pd.DataFrame(self.ballots, columns=["rating_code", "rater_group", "ballot", "units", "file", "sheet", "cell"])
        # two entry tables of one group: which holds the final entries cannot be known, so neither counts
        twice = {key: files for key, files in self.paper_files.items() if len(files) > 1}
        for key, files in twice.items():
            self.add(error(IssueCode.duplicate_submission,
                           f"测评「{key[0]}」{key[1]}有 {len(files)} 个纸质票录入表：{'、'.join(files)}，其中的票均未计入。"
                           "请把纸质票录入同一个录入表，只保留这一份", file="、".join(files)))
        if twice:
            pairs = pd.Series(list(zip(ballots["rating_code"], ballots["rater_group"])), index=ballots.index, dtype=object)
            ballots = ballots[~pairs.isin(list(twice))].reset_index(drop=True)
        dup = ballots.duplicated(rating_score.KEY + ["ballot"], keep=False)
        for (code, group, ballot), rows in ballots[dup].groupby(rating_score.KEY + ["ballot"], sort=False):
            places = "、".join(_place(r.file, r.sheet, r.cell) for r in rows.itertuples(index=False))
            one_file = rows["file"].nunique() == 1
            self.add(error(IssueCode.rating_duplicate_ballot,
                           f"测评「{code}」{group}的票号 {ballot} 出现了 {len(rows)} 次（{places}），"
                           "同一张票不能重复计入，这些票均未计入。请核对后只保留一份",
                           file="、".join(dict.fromkeys(rows["file"])),
                           sheet=rows["sheet"].iat[0] if one_file else "", cell=rows["cell"].iat[0] if one_file else ""))
        duplicates = ballots[dup].assign(status="duplicate", n_marks=0, n_top=0, limit=np.nan)
        good = marks[marks["points"].notna()][["rating_code", "rater_group", "ballot", "unit_code", "points", "top"]]
        singles = ballots[~dup]
        # judge_ballots leaves out the marks of ballots not in singles (duplicate 票号, a doubled entry
        # table), so the keys stay categorical and are not hashed as text a second time
        judged, valid = rating_score.judge_ballots(good, singles, scheme.ratings)
        self.identical_ballots(valid, singles)
        for row in judged[judged["status"] != rating_score.STATUS_VALID].itertuples():
            if row.status == rating_score.STATUS_BLANK:
                text = "空白票（没有任何评价），不计入有效票"
            elif row.status == rating_score.STATUS_VOID_TOP:
                text = f"评「优秀」（最高等次）{row.n_top} 个，超过每票优秀上限 {row.limit:g} 个，按无效票处理"
            else:
                text = f"全部 {row.n_marks} 项评价相同，按“全同无效”规则作废"
            self.add(warning(IssueCode.rating_void_ballot, f"测评「{row.rating_code}」{row.rater_group}票号 {row.ballot}：{text}",
                             file=row.file, sheet=row.sheet, cell=row.cell))
        for key, files in self.tally_files.items():
            if len(files) > 1:
                self.add(error(IssueCode.duplicate_submission,
                               f"测评「{key[0]}」{key[1]}有 {len(files)} 个汇总表：{'、'.join(files)}，票数均未计入。请只保留最终版",
                               file="、".join(files)))
        tallies = pd.DataFrame(self.tallies, columns=["rating_code", "rater_group", "unit_code", "votes", "points", "top", "file"])
        many = [key for key, files in self.tally_files.items() if len(files) > 1]
        if many:
            tallies = tallies[~pd.Series(list(zip(tallies["rating_code"], tallies["rater_group"])), index=tallies.index).isin(many)]
        stats = rating_score.group_stats(valid, tallies, scheme.ratings, scheme.raters, scheme.units)
        values = rating_score.unit_values(stats, scheme.ratings)
        names = scheme.unit_names()
        for row in stats[stats["count"] == 0].itertuples():
            self.add(warning(IssueCode.rating_group_absent,
                             f"测评「{row.rating_code}」{row.rater_group}对单位「{row.unit_code} {names.get(row.unit_code, '')}」没有有效评价，"
                             "该类别权重不计，按其余类别归一", unit=row.unit_code))
        indicator_of = dict(zip(scheme.ratings["rating_code"], scheme.ratings["indicator_code"]))
        for row in values[values["value"].isna()].itertuples():
            self.add(error(IssueCode.missing_value,
                           f"测评「{row.rating_code}」没有单位「{row.unit_code} {names.get(row.unit_code, '')}」的任何有效评价，"
                           "该指标无法计分。请检查测评票是否齐全", unit=row.unit_code, indicator=indicator_of.get(row.rating_code, "")))
        all_judged = pd.concat([judged, duplicates], ignore_index=True) if len(duplicates) else judged
        part = rating_score.participation(all_judged, scheme.raters)
        rules = dict(zip(scheme.ratings["rating_code"], scheme.ratings["min_participation"]))
        for row in part.itertuples():
            low = rules.get(row.rating_code, math.nan)
            if row.collect != COLLECT_TALLY and low == low and row.expected == row.expected and row.rate < low - 1e-12:
                self.add(warning(IssueCode.rating_low_participation,
                                 f"测评「{row.rating_code}」{row.rater_group}有效票 {row.valid} 张，应参评 {int(row.expected)} 人，"
                                 f"参评率 {row.rate * 100:.1f}%，低于参评率下限 {low * 100:g}%"))
        # only units the indicator applies to (not exempt) get a value row
        assignments = scheme.assignments()
        wanted = assignments.loc[~assignments["exempt"], ["unit_code", "indicator_code"]]
        scored = values[values["value"].notna()].merge(wanted, on=["unit_code", "indicator_code"], how="inner")
        rows = [{"unit_code": r.unit_code, "indicator_code": r.indicator_code, "value": float(r.value), "text_value": None,
                 "evidence": "", "note": "", "file": "测评", "sheet": "", "cell": "", "unscored": False}
                for r in scored.itertuples()]
        return RatingOutcome(all_judged, stats, values, part), rows


def explain_scored(scored: pd.DataFrame, outcome: RatingOutcome) -> pd.DataFrame:
    """The 测评 sentence (each group's count, dropped marks, mean and weight) ahead of the scoring sentence."""
    values = outcome.values
    if not len(values):
        return scored
    sentence = pd.Series(values["explanation"].to_numpy(),
                         index=pd.MultiIndex.from_arrays([values["unit_code"], values["indicator_code"]]))
    keys = pd.MultiIndex.from_arrays([scored["unit_code"], scored["indicator_code"]])
    found = pd.Series(sentence.reindex(keys).to_numpy(), index=scored.index)
    scored = scored.copy()
    scored["explanation"] = (found.fillna("") + np.where(found.notna(), "。", "") + scored["explanation"].astype(str)).astype(str)
    return scored
