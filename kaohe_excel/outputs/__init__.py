"""Everything written for people: workbooks, the notice, templates, mail."""
