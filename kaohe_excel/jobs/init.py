"""`kaohe init DIR`: a working folder for a new office, from the installed package alone.

Everything is generated or copied from package data (no file of the repository clone is
needed): the sample scheme, the editable notice and mail templates, kaohe.toml.example,
a filled sample inbox and a short 使用说明.txt. The samples come from the same functions
as scripts/make_samples.py (build_sample_scheme, build_sample_inputs) with the same seed,
so whatever those functions add to the samples (e.g. signing) reaches `init` too.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from kaohe_excel.base.errors import KaoheError
from kaohe_excel.base import paths

RESOURCES = paths.RESOURCES
SCHEME_NAME = "考核方案.xlsx"
INBOX_NAME = "示例收件箱"
TEMPLATE_DIR = "templates"  # where run looks for 通报.docx and mail looks for the mail templates
GUIDE_NAME = "使用说明.txt"
SCHEME_GUIDE = "考核方案编写指南.md"  # a copy of docs/scheme-guide.md shipped in the package (tests keep them equal)
CONFIG_EXAMPLE = "kaohe.toml.example"
MAIL_TEMPLATES = ("mail_unit.txt.j2", "mail_leader.txt.j2")
SAMPLE_SEED = 2024  # the seed of scripts/make_samples.py: the same sample figures as the repository's

GUIDE_TEXT = """考核表格批处理（kaohe）工作文件夹

本文件夹由 kaohe init 生成，内容：
  考核方案.xlsx          示例考核方案（清源县），按本单位实际修改后使用
  示例收件箱\\            各单位已填好的示例报送表、评定表和民主测评票，可直接试运行
  templates\\通报.docx    通报的 Word 模板，可修改字体、抬头、落款等
  templates\\mail_*.j2    邮件正文模板（第一行“主题：…”）
  kaohe.toml.example     邮件设置示例，复制为 kaohe.toml 后填写
  考核方案编写指南.md    每张表、每一列的写法，每种计分方法的算例（可用记事本或浏览器打开）

先试运行（在本文件夹中打开命令行）：
  kaohe run 示例收件箱
结果在 outputs\\2024\\：汇总表.xlsx、通报.docx、反馈\\（每个单位一个反馈表）。

正式使用：
  1. 修改 考核方案.xlsx（方案、等次、单位、指标、目标分解、档次表、权重、加扣分、测评、测评人各表）。
  2. kaohe template          生成各单位填报模板、考核办的评定表和测评票（outputs\\模板\\），下发各单位。
  3. 把收回的表格放进一个文件夹（如 收件箱\\），运行 kaohe check 收件箱 查看问题。
  4. kaohe run 收件箱        计分、排名、评定等次，生成汇总表、通报和反馈表。
  5. kaohe seal 2024         定稿封存。

每条命令的说明：kaohe 命令 --help（例如 kaohe run --help）。
考核方案各表、各列的写法、计分方法和算例见本文件夹的 考核方案编写指南.md。
"""


@dataclass
class InitResult:
    folder: Path
    scheme: Path
    inbox: Path
    files: list[Path] = field(default_factory=list)


def init_folder(folder: str | Path) -> InitResult:
    """Create the working folder; refuse to overwrite an office's own scheme or inbox."""
    from kaohe_excel.outputs.notice_template import build_notice_template
    from kaohe_excel.samples.county import build_sample_inputs, build_sample_scheme
    from kaohe_excel.scheme.workbook import load_scheme

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise KaoheError(f"{folder} 已存在且不是文件夹，请换一个名称")
    existing = [name for name in (SCHEME_NAME, INBOX_NAME) if (folder / name).exists()]
    if existing:
        raise KaoheError(f"{folder} 中已有 {'、'.join(existing)}，为免覆盖已停止。请换一个新文件夹，"
                         f"或先把它们移走")
    folder.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    scheme_path = build_sample_scheme(folder / SCHEME_NAME)
    files.append(scheme_path)
    templates = folder / TEMPLATE_DIR
    templates.mkdir(exist_ok=True)
    notice = templates / "通报.docx"
    if not notice.exists():
        files.append(build_notice_template(notice))
    for name in MAIL_TEMPLATES:
        target = templates / name
        if not target.exists():
            shutil.copyfile(RESOURCES / name, target)
            files.append(target)
    scheme_guide = folder / SCHEME_GUIDE
    shutil.copyfile(RESOURCES / "scheme-guide.md", scheme_guide)
    files.append(scheme_guide)
    config = folder / CONFIG_EXAMPLE
    shutil.copyfile(RESOURCES / CONFIG_EXAMPLE, config)
    files.append(config)
    inbox = folder / INBOX_NAME
    inbox.mkdir()
    files.extend(build_sample_inputs(load_scheme(scheme_path), inbox, seed=SAMPLE_SEED))
    guide = folder / GUIDE_NAME
    # BOM and CRLF: old Notepad shows UTF-8 without BOM as mojibake and LF-only text on one line.
    guide.write_bytes(GUIDE_TEXT.replace("\n", "\r\n").encode("utf-8-sig"))
    files.append(guide)
    return InitResult(folder, scheme_path, inbox, files)
