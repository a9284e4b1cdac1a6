"""Invoice documents: CSV for finance tools, PDF for people. The PDF carries the partner's name
and colours; Chinese text uses ReportLab's built-in STSong-Light CID font, so no font file
has to ship with the app."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from app.billing.invoices import vat_label
from app.billing.models import Invoice
from app.partners.models import Partner

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))
COLOR_RE = re.compile(r"^#[0-9A-Fa-f]{6}$")
TITLES = {"invoice": "INVOICE", "credit_note": "CREDIT NOTE"}


def yuan(amount_minor: int) -> str:
    """Minor units as a decimal string with the sign in front: -1234 → -12.34."""
    sign = "-" if amount_minor < 0 else ""
    return f"{sign}{abs(amount_minor) // 100:,}.{abs(amount_minor) % 100:02d}"


def invoice_csv(invoice: Invoice) -> str:
    """One row per line, then subtotal / VAT / total rows; amounts in minor units and yuan."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "invoice",
            "line",
            "kind",
            "description",
            "listing_id",
            "quantity",
            "unit_amount_minor",
            "amount_minor",
            "amount",
            "currency",
        ]
    )
    for line in invoice.lines:
        writer.writerow(
            [
                invoice.number,
                line.position + 1,
                line.kind,
                line.description,
                line.listing_id or "",
                "" if line.quantity is None else line.quantity,
                "" if line.unit_amount_minor is None else line.unit_amount_minor,
                line.amount_minor,
                yuan(line.amount_minor),
                invoice.currency,
            ]
        )
    for label, amount in (
        ("subtotal", invoice.subtotal_minor),
        ("vat", invoice.vat_minor),
        ("total", invoice.total_minor),
    ):
        writer.writerow(
            [invoice.number, "", label, "", "", "", "", amount, yuan(amount), invoice.currency]
        )
    return out.getvalue()


def _brand_color(partner: Partner, key: str, default: str) -> colors.Color:
    value = (partner.branding or {}).get(key) or default
    return colors.HexColor(value if COLOR_RE.fullmatch(value) else default)


def invoice_pdf(invoice: Invoice, partner: Partner) -> bytes:
    buffer = io.BytesIO()
    primary = _brand_color(partner, "primary_color", "#1F3A5F")
    accent = _brand_color(partner, "accent_color", "#DDDDDD")
    display_name = (partner.branding or {}).get("display_name") or partner.name
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=f"{TITLES[invoice.kind]} {invoice.number}",
        author="Quanyi",
    )
    text = ParagraphStyle("text", fontName=FONT, fontSize=10, leading=14)
    banner = ParagraphStyle("banner", parent=text, fontSize=16, leading=22, textColor=colors.white)
    story: list[Any] = [
        Table(
            [[Paragraph(_escape(display_name), banner)]],
            colWidths=[doc.width],
            style=TableStyle(
                [("BACKGROUND", (0, 0), (-1, -1), primary), ("PADDING", (0, 0), (-1, -1), 8)]
            ),
        ),
        Spacer(1, 6 * mm),
    ]
    facts = [
        (TITLES[invoice.kind], invoice.number),
        ("Bill to", partner.name),
        ("Period", f"{invoice.period} ({invoice.timezone})"),
        ("Status", invoice.status),
        ("Issued", invoice.issued_at.date().isoformat() if invoice.issued_at else "not issued"),
        ("Due", invoice.due_on.isoformat() if invoice.due_on else "-"),
    ]
    story.append(
        Table(
            [[Paragraph(_escape(k), text), Paragraph(_escape(v), text)] for k, v in facts],
            colWidths=[35 * mm, doc.width - 35 * mm],
        )
    )
    story.append(Spacer(1, 6 * mm))
    rows: list[list[Any]] = [["Description", "Qty", "Unit", f"Amount ({invoice.currency})"]]
    for line in invoice.lines:
        rows.append(
            [
                Paragraph(_escape(line.description), text),
                "" if line.quantity is None else str(line.quantity),
                "" if line.unit_amount_minor is None else yuan(line.unit_amount_minor),
                yuan(line.amount_minor),
            ]
        )
    rows.append(["Subtotal", "", "", yuan(invoice.subtotal_minor)])
    rows.append([vat_label(invoice.vat_rate_bp), "", "", yuan(invoice.vat_minor)])
    rows.append(["Total", "", "", yuan(invoice.total_minor)])
    story.append(
        Table(
            rows,
            colWidths=[doc.width - 75 * mm, 15 * mm, 25 * mm, 35 * mm],
            repeatRows=1,
            style=TableStyle(
                [
                    ("FONT", (0, 0), (-1, -1), FONT, 10),
                    ("BACKGROUND", (0, 0), (-1, 0), accent),
                    ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
                    ("LINEABOVE", (0, -3), (-1, -3), 0.5, colors.grey),
                    ("FONT", (0, -1), (-1, -1), FONT, 11),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            ),
        )
    )
    if invoice.notes:
        story += [Spacer(1, 6 * mm), Paragraph(_escape(invoice.notes), text)]
    doc.build(story)
    return buffer.getvalue()


def _escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
