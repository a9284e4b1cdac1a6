"""Invoice documents: CSV for finance tools, PDF for people.

The CSV starts with a UTF-8 byte-order mark (Excel reads UTF-8 only with one) and keeps the
totals in a section of their own, after the lines. The PDF states who issues it (the platform's
company: name, tax id, address, bank), carries the partner's logo and colours, shows VAT once
(in the totals), and embeds its font — a subset of the configured TrueType font (Debian's
WenQuanYi Micro Hei), so Chinese names print the same on every machine; without that file it
falls back to ReportLab's STSong-Light, which viewers must supply themselves."""

from __future__ import annotations

import csv
import io
import logging
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from reportlab.graphics.shapes import Drawing, Group, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    Flowable,
    Image,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)
from svglib.svglib import svg2rlg

from app.billing.invoices import vat_label
from app.billing.models import Invoice
from app.config import Issuer
from app.partners.assets import partner_logo
from app.partners.models import Partner

log = logging.getLogger("quanyi.billing")

FALLBACK_FONT = "STSong-Light"
EMBEDDED_FONT = "QuanyiSans"
COLOR_RE = re.compile(r"^#[0-9A-Fa-f]{6}$")
TITLES = {"invoice": "INVOICE 发票", "credit_note": "CREDIT NOTE 红字发票"}
LOGO_HEIGHT = 12 * mm
LINE_COLUMNS = [
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
TOTAL_COLUMNS = ["invoice", "total", "amount_minor", "amount", "currency"]


@dataclass(frozen=True)
class Letterhead:
    """What frames an invoice PDF besides the invoice: its issuer, font and the partner's logo."""

    issuer: Issuer
    font: Path | None = None
    logo: Path | None = None


def yuan(amount_minor: int) -> str:
    """Minor units as a decimal string with the sign in front: -1234 → -12.34."""
    sign = "-" if amount_minor < 0 else ""
    return f"{sign}{abs(amount_minor) // 100:,}.{abs(amount_minor) % 100:02d}"


def invoice_csv(invoice: Invoice) -> str:
    """A byte-order mark; the lines (amounts in minor units and yuan); a blank row; then the
    totals section: subtotal, VAT, total."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(LINE_COLUMNS)
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
    writer.writerow([])
    writer.writerow(TOTAL_COLUMNS)
    for label, amount in (
        ("subtotal", invoice.subtotal_minor),
        ("vat", invoice.vat_minor),
        ("total", invoice.total_minor),
    ):
        writer.writerow([invoice.number, label, amount, yuan(amount), invoice.currency])
    return out.getvalue()


@cache
def pdf_font(path: Path | None) -> str:
    """The font name to draw with: the TrueType file at `path`, registered once (ReportLab
    embeds the glyphs a document uses), or the CID fallback when there is no such file."""
    if path is not None and path.is_file():
        pdfmetrics.registerFont(TTFont(EMBEDDED_FONT, str(path), subfontIndex=0))
        return EMBEDDED_FONT
    log.warning(
        "invoice PDF font %s not found: falling back to %s (not embedded)", path, FALLBACK_FONT
    )
    pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK_FONT))
    return FALLBACK_FONT


def logo_flowable(path: Path | None, font: str) -> Flowable | None:
    """The partner's logo scaled to the banner's height (SVG through svglib, its text in the
    document's font — svglib would draw 金海 in Helvetica, which has no such glyphs — or a
    bitmap)."""
    if path is None:
        return None
    if path.suffix.lower() == ".svg":
        drawing = svg2rlg(str(path))
        if drawing is None or not drawing.height:
            return None
        _set_font(drawing, font)
        scale = LOGO_HEIGHT / drawing.height
        drawing.width, drawing.height = drawing.width * scale, LOGO_HEIGHT
        drawing.scale(scale, scale)
        return drawing
    image = Image(str(path))
    image.drawWidth = image.imageWidth * LOGO_HEIGHT / image.imageHeight
    image.drawHeight = LOGO_HEIGHT
    return image


def _brand_color(partner: Partner, key: str, default: str) -> colors.Color:
    value = (partner.branding or {}).get(key) or default
    return colors.HexColor(value if COLOR_RE.fullmatch(value) else default)


def invoice_pdf(invoice: Invoice, partner: Partner, letterhead: Letterhead) -> bytes:
    buffer = io.BytesIO()
    font = pdf_font(letterhead.font)
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
        author=letterhead.issuer.name,
    )
    text = ParagraphStyle("text", fontName=font, fontSize=10, leading=14)
    small = ParagraphStyle("small", parent=text, fontSize=8, leading=11, textColor=colors.grey)
    banner = ParagraphStyle("banner", parent=text, fontSize=16, leading=22, textColor=colors.white)
    issuer = letterhead.issuer
    issued_by = Paragraph(
        "<br/>".join(
            _escape(v)
            for v in (issuer.name, f"Tax ID 税号 {issuer.tax_id}", issuer.address, issuer.bank)
        ),
        small,
    )
    story: list[Any] = [
        Table(
            [[logo_flowable(letterhead.logo, font) or "", issued_by]],
            colWidths=[doc.width * 0.4, doc.width * 0.6],
            style=TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE")]),
        ),
        Spacer(1, 4 * mm),
        Table(
            [[Paragraph(_escape(f"{TITLES[invoice.kind]} · {display_name}"), banner)]],
            colWidths=[doc.width],
            style=TableStyle(
                [("BACKGROUND", (0, 0), (-1, -1), primary), ("PADDING", (0, 0), (-1, -1), 8)]
            ),
        ),
        Spacer(1, 6 * mm),
    ]
    facts = [
        ("Number 编号", invoice.number),
        ("Bill to 购买方", partner.name),
        ("Period 账期", f"{invoice.period} ({invoice.timezone})"),
        ("Status 状态", invoice.status),
        (
            "Issued 开具",
            invoice.issued_at.date().isoformat() if invoice.issued_at else "not issued",
        ),
        ("Due 到期", invoice.due_on.isoformat() if invoice.due_on else "-"),
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
        if line.kind == "vat":
            continue  # VAT is shown once, in the totals
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
                    ("FONT", (0, 0), (-1, -1), font, 10),
                    ("BACKGROUND", (0, 0), (-1, 0), accent),
                    ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
                    ("LINEABOVE", (0, -3), (-1, -3), 0.5, colors.grey),
                    ("FONT", (0, -1), (-1, -1), font, 11),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            ),
        )
    )
    if invoice.notes:
        story += [Spacer(1, 6 * mm), Paragraph(_escape(invoice.notes), text)]
    doc.build(story)
    return buffer.getvalue()


def _set_font(node: Drawing | Group, font: str) -> None:
    for child in node.contents:
        if isinstance(child, String):
            child.fontName = font
        elif isinstance(child, Group):
            _set_font(child, font)


def _escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def invoice_file(
    invoice: Invoice, partner: Partner, fmt: str, issuer: Any, font: Path
) -> tuple[bytes | str, str, str]:
    """The invoice as a file people open: (body, media type, file name) for `fmt` csv or pdf."""
    filename = f"{invoice.number}.{fmt}"
    if fmt == "csv":
        return invoice_csv(invoice), "text/csv", filename  # Flask adds the one charset (utf-8)
    letterhead = Letterhead(issuer=issuer, font=font, logo=partner_logo(partner))
    return invoice_pdf(invoice, partner, letterhead), "application/pdf", filename
