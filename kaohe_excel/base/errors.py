"""Fatal conditions: the run cannot go on. Bad data is never an exception (see issues.py).

Each exception carries a Chinese message for the user as its first argument; the CLI
prints that one line (exit status 2) and a traceback only with --verbose.
"""

from __future__ import annotations


class KaoheError(Exception):
    """Base of every fatal condition; str(exc) is the Chinese message."""


class SchemeNotFound(KaoheError):
    """The scheme workbook does not exist or cannot be opened."""


class SchemeInvalid(KaoheError):
    """The scheme workbook breaks the contract; `problems` lists each (sheet, row, message)."""

    def __init__(self, message: str, problems: list[tuple[str, int | None, str]] | None = None):
        super().__init__(message)
        self.problems = problems or []

    def __str__(self) -> str:
        lines = [self.args[0]]
        for sheet, row, text in self.problems:
            where = f"「{sheet}」表" + (f"第{row}行" if row else "")
            lines.append(f"  {where}：{text}")
        return "\n".join(lines)


class InboxNotFound(KaoheError):
    """The inbox folder does not exist or is not a folder."""


class OutputInsideInbox(KaoheError):
    """An output path points inside the inbox, where it would be read as a submission."""


class DataErrorsPresent(KaoheError):
    """`run` found 错误-level issues and --allow-errors was not given."""


class PeriodSealed(KaoheError):
    """The period is sealed (封存) and may not be overwritten."""


class PeriodNotFound(KaoheError):
    """No archived period of that name exists under the outputs root."""


class OutputsLocked(KaoheError):
    """Another run holds the lock on the outputs folder."""


class ArchiveMismatch(KaoheError):
    """An archived period's files no longer match its manifest (refused before sealing)."""


class InboxChanged(KaoheError):
    """An inbox file changed between reading it and copying it into the archive."""


class MailConfigError(KaoheError):
    """kaohe.toml is missing, incomplete, or the password variable is not set."""


class MailSendError(KaoheError):
    """The SMTP server refused the connection or the login."""


class OfficeKeyError(KaoheError):
    """The office key (考核办密钥) is missing, unreadable, or configured where it must not be."""


# w-outputs: file-system conditions a user can fix, each str() one Chinese line naming the path.
class FileSystemProblem(KaoheError):
    """Reading or writing a file failed for a reason the user can fix; `path` is the file or folder."""

    def __init__(self, message: str, path: object = None):
        super().__init__(message)
        self.path = path


class OutputNotWritable(FileSystemProblem):
    """No permission to write there, or the disk is read-only (EACCES, EPERM, EROFS)."""


class FileInUse(FileSystemProblem):
    """The file is open in Excel/WPS/Word (Windows locks it), so it cannot be replaced."""


class DiskFull(FileSystemProblem):
    """The disk or the user's quota is full (ENOSPC, EDQUOT)."""


class PathBlocked(FileSystemProblem):
    """A file stands where a folder is expected, or a folder where a file is (ENOTDIR, EEXIST, EISDIR)."""


class PathTooLong(FileSystemProblem):
    """The path or a file name is longer than the system allows (ENAMETOOLONG)."""


class OutputExists(FileSystemProblem):
    """An output file already exists and replacing it was not asked for (or is never allowed)."""


class ArchiveDamaged(FileSystemProblem):
    """A file of an archived period (manifest.json, a parquet table) is truncated or malformed."""


class InboxEmpty(KaoheError):
    """The inbox folder holds no spreadsheet at all (w-docs): said once, not as one 未报送 line per unit."""


class NoticeTemplateError(KaoheError):
    """The office's notice template (通报.docx) is broken or tries to reach past its values."""


class InterimSourceMissing(KaoheError):
    """w-interim: a 平时 indicator's source period is not archived (or none of the year is)."""


class PublicationPending(KaoheError):
    """w-year: `kaohe seal` of a period whose 公示 has not ended, without --force."""
