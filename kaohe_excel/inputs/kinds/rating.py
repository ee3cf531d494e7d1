"""The three 测评 kinds (电子票, 纸质票 entry table, 汇总 tally): read by rating_read, judged by
the validator's RatingCollector once every ballot is seen."""

from __future__ import annotations

from kaohe_excel.base.issues import IssueCode, error
from kaohe_excel.base.layout import BALLOT_FILE_TYPE, PAPER_FILE_TYPE, TALLY_FILE_TYPE
from kaohe_excel.inputs import rating_read
from kaohe_excel.inputs.kinds.registry import InputKind, Template


def interpret(result, sheets: dict[str, list[list]]) -> None:
    result.kind = result.meta.get("文件类型", "")
    rating_read.interpret(result, sheets)


def judge(checker, result, proven: bool = True) -> None:
    status = checker.rating.file(result) if checker.rating is not None else "rejected"
    if checker.rating is None:
        checker.add(error(IssueCode.rating_unknown, "考核方案中没有测评，此测评表未采用", file=result.name))
    checker.submission(result, "", status)


# one writer and one sample filler make all three kinds' workbooks
_TEMPLATE = Template(write="kaohe_excel.outputs.rating_template:write_rating_workbooks",
                     plan="kaohe_excel.outputs.rating_template:planned_rating_paths")
KINDS = tuple(InputKind(file_type=file_type, interpret=interpret, judge=judge, alone=False, empty_cells=rating_read.empty_marks,
                        guard=rating_read.guard, template=_TEMPLATE, sample="kaohe_excel.samples.rating:fill_sample_ballots")
              for file_type in (BALLOT_FILE_TYPE, PAPER_FILE_TYPE, TALLY_FILE_TYPE))
