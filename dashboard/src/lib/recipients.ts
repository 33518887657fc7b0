/**
 * Recipient lists pasted or uploaded (CSV or Excel): rows are read into cells, the columns recognised
 * (a header row naming phone / email / name in English or Korean, else guessed from the values), and each
 * row checked before anything is sent: invalid numbers or emails, duplicates and missing fields are
 * reported per row and left out of the send.
 */
import Papa from "papaparse";
import { isPlausibleEmail, normalizeKoreanMobile } from "./phone";

export interface Recipient {
  phone?: string;
  email?: string;
  name?: string;
}

export type RowIssue = "invalid_phone" | "invalid_email" | "missing_phone" | "missing_email" | "duplicate";

export interface RowReport {
  /** 1-based line in the file or the pasted text. */
  line: number;
  cells: string[];
  issue: RowIssue | null;
  recipient: Recipient;
}

export interface RecipientCheck {
  recipients: Recipient[];
  rows: RowReport[];
  problems: number;
}

type Column = "phone" | "email" | "name";

const HEADER: Record<Column, RegExp> = {
  phone: /^(phone|mobile|tel|number|휴대폰|휴대전화|전화|전화번호|연락처|핸드폰|휴대폰번호)/i,
  email: /^(e-?mail|mail|이메일|메일)/i,
  name: /^(name|이름|성명|고객명|당첨자)/i,
};

/** Cells of CSV or pasted text (comma, tab or semicolon separated; one recipient per line). */
export function parseDelimited(text: string): string[][] {
  const result = Papa.parse<string[]>(text.replace(/^\uFEFF/, ""), { skipEmptyLines: "greedy" });
  // Lines copied from a spreadsheet are tab separated even when others use commas.
  return result.data.map((row) => row.flatMap((c) => String(c ?? "").split("\t")).map((c) => c.trim()));
}

/** Excel cell values (string, number, boolean, Date, null) as text. */
export function cellsAsText(rows: unknown[][]): string[][] {
  return rows.map((row) =>
    row.map((v) => {
      if (v === null || v === undefined) return "";
      if (v instanceof Date) return v.toISOString();
      // A number cell loses a phone's leading zero: 1012345678 is read as 010-1234-5678 by the phone rule.
      return String(v).trim();
    }),
  );
}

function columnsOf(header: string[]): Partial<Record<Column, number>> | null {
  const cols: Partial<Record<Column, number>> = {};
  header.forEach((cell, i) => {
    for (const c of Object.keys(HEADER) as Column[]) {
      if (cols[c] === undefined && HEADER[c].test(cell.trim())) cols[c] = i;
    }
  });
  return Object.keys(cols).length ? cols : null;
}

function guess(cells: string[]): Recipient {
  const r: Recipient = {};
  for (const cell of cells) {
    if (!cell) continue;
    if (cell.includes("@")) r.email ??= cell;
    else if (/^[+\d][\d\s.\-()]{6,}$/.test(cell.normalize("NFKC"))) r.phone ??= cell;
    else r.name ??= cell;
  }
  return r;
}

/**
 * Checks every row for a send that needs `need` (phone for gifts and SMS/LMS, email for email).
 * Valid recipients come back with the phone in E.164.
 */
export function checkRecipients(table: string[][], need: "phone" | "email"): RecipientCheck {
  const rows = table.filter((r) => r.some((c) => c !== ""));
  let start = 0;
  let cols: Partial<Record<Column, number>> | null = null;
  if (rows.length) {
    cols = columnsOf(rows[0]);
    if (cols) start = 1;
  }
  const seen = new Set<string>();
  const report: RowReport[] = [];
  const recipients: Recipient[] = [];
  let lineOf = 0;
  for (let i = 0; i < table.length; i++) {
    const cells = table[i];
    if (!cells.some((c) => c !== "")) continue;
    lineOf++;
    if (lineOf <= start) continue;
    const raw: Recipient = cols
      ? {
          phone: cols.phone !== undefined ? cells[cols.phone] || undefined : undefined,
          email: cols.email !== undefined ? cells[cols.email] || undefined : undefined,
          name: cols.name !== undefined ? cells[cols.name] || undefined : undefined,
        }
      : guess(cells);
    const recipient: Recipient = {};
    if (raw.name) recipient.name = raw.name;
    let issue: RowIssue | null = null;
    let key = "";
    if (need === "phone") {
      if (!raw.phone) issue = "missing_phone";
      else {
        const e164 = normalizeKoreanMobile(raw.phone);
        if (!e164) issue = "invalid_phone";
        else {
          recipient.phone = e164;
          key = e164;
        }
      }
    } else {
      if (!raw.email) issue = "missing_email";
      else if (!isPlausibleEmail(raw.email)) issue = "invalid_email";
      else {
        recipient.email = raw.email.trim();
        key = recipient.email.toLowerCase();
      }
    }
    if (!issue && seen.has(key)) issue = "duplicate";
    if (!issue) {
      seen.add(key);
      recipients.push(recipient);
    }
    report.push({ line: i + 1, cells, issue, recipient });
  }
  return { recipients, rows: report, problems: report.filter((r) => r.issue).length };
}

const FORMULA = /^[=@\t\r]|^[+-](?![\d\s]*$)/;

/** The recipients as a CSV file's text (for exports); quoting by papaparse. */
export function toCsv(header: string[], rows: (string | number | null | undefined)[][]): string {
  return (
    "\uFEFF" +
    Papa.unparse(
      { fields: header, data: rows.map((r) => r.map((c) => (c ?? "") as string | number)) },
      // A cell a spreadsheet would run as a formula is quoted; phone numbers (+8210...) stay as they are.
      { escapeFormulae: FORMULA },
    )
  );
}
