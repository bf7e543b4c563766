"""A minimal PDF 1.4 writer: pages of text lines (Helvetica) and simple bar charts drawn with
path operators. Enough for a human-readable evidence summary without a PDF dependency."""

from __future__ import annotations

from dataclasses import dataclass, field

PAGE_W, PAGE_H = 595, 842  # A4 in points
MARGIN = 50


def _escape(text: str) -> str:
    # Helvetica with WinAnsi: keep to Latin-1, escape PDF string delimiters.
    safe = text.encode("latin-1", "replace").decode("latin-1")
    return safe.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


@dataclass
class _Page:
    ops: list[str] = field(default_factory=list)


class PdfDocument:
    def __init__(self, title: str = "") -> None:
        self.title = title
        self.pages: list[_Page] = []
        self.y = 0.0
        self.new_page()

    def new_page(self) -> None:
        self.pages.append(_Page())
        self.y = PAGE_H - MARGIN

    def _need(self, height: float) -> None:
        if self.y - height < MARGIN:
            self.new_page()

    def text(self, line: str, *, size: int = 10, bold: bool = False) -> None:
        leading = size * 1.4
        self._need(leading)
        self.y -= leading
        font = "F2" if bold else "F1"
        self.pages[-1].ops.append(
            f"BT /{font} {size} Tf {MARGIN} {self.y:.1f} Td ({_escape(line[:110])}) Tj ET"
        )

    def gap(self, height: float = 8) -> None:
        self.y -= height

    def bar_chart(self, title: str, bars: list[tuple[str, float]], *, height: float = 160) -> None:
        """Vertical bars with labels under each bar and the maximum on the axis."""
        bars = bars[:40]
        self._need(height + 50)
        self.text(title, size=11, bold=True)
        top = self.y - 10
        base = top - height
        width = PAGE_W - 2 * MARGIN
        ops = self.pages[-1].ops
        ops.append(f"0.3 w {MARGIN} {base:.1f} m {MARGIN + width} {base:.1f} l S")
        ops.append(f"{MARGIN} {base:.1f} m {MARGIN} {top:.1f} l S")
        peak = max((v for _, v in bars), default=0) or 1
        ops.append(f"BT /F1 7 Tf {MARGIN + 3} {top - 7:.1f} Td (max {peak:g}) Tj ET")
        if not bars:
            ops.append(f"BT /F1 9 Tf {MARGIN + 10} {base + 10:.1f} Td (no data) Tj ET")
        slot = width / max(len(bars), 1)
        for i, (label, value) in enumerate(bars):
            x = MARGIN + i * slot + slot * 0.15
            h = (value / peak) * (height - 15)
            ops.append(f"0.25 0.45 0.75 rg {x:.1f} {base:.1f} {slot * 0.7:.1f} {h:.1f} re f")
            ops.append("0 0 0 rg")
            ops.append(f"BT /F1 6 Tf {x:.1f} {base - 8:.1f} Td ({_escape(label[:10])}) Tj ET")
        self.y = base - 16

    def render(self) -> bytes:
        objects: list[bytes] = []

        def add(body: bytes) -> int:
            objects.append(body)
            return len(objects)

        catalog = add(b"")  # placeholder, filled once the pages object number is known
        pages_obj = add(b"")
        font1 = add(
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
        )
        font2 = add(
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold "
            b"/Encoding /WinAnsiEncoding >>"
        )
        info = add(f"<< /Title ({_escape(self.title)}) /Producer (OpenDCP) >>".encode("latin-1"))
        kids = []
        for page in self.pages:
            stream = "\n".join(page.ops).encode("latin-1")
            content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
            kids.append(
                add(
                    (
                        f"<< /Type /Page /Parent {pages_obj} 0 R /MediaBox [0 0 {PAGE_W} {PAGE_H}] "
                        f"/Resources << /Font << /F1 {font1} 0 R /F2 {font2} 0 R >> >> "
                        f"/Contents {content} 0 R >>"
                    ).encode()
                )
            )
        objects[catalog - 1] = f"<< /Type /Catalog /Pages {pages_obj} 0 R >>".encode()
        objects[pages_obj - 1] = (
            f"<< /Type /Pages /Kids [{' '.join(f'{k} 0 R' for k in kids)}] /Count {len(kids)} >>"
        ).encode()
        out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for number, body in enumerate(objects, start=1):
            offsets.append(len(out))
            out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
        xref = len(out)
        out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
        for offset in offsets:
            out += b"%010d 00000 n \n" % offset
        out += b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
            len(objects) + 1,
            catalog,
            info,
            xref,
        )
        return bytes(out)
