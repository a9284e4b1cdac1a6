"""The mall's forms (Flask-WTF: each carries its CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional


class BuyForm(FlaskForm):
    # one key per rendering of the form: submitting it twice places one order
    checkout_key = HiddenField(validators=[DataRequired(), Length(min=16, max=40)])
    quantity = IntegerField(
        _l("Quantity"), default=1, validators=[InputRequired(), NumberRange(min=1, max=100)]
    )
    recharge_account = StringField(
        _l("Account to recharge"), validators=[Optional(), Length(max=128)]
    )


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class LanguageForm(FlaskForm):
    locale = HiddenField(validators=[DataRequired()])


class ReportForm(FlaskForm):
    """A member reports a problem with a delivered unit (an after-sales case)."""

    delivery_id = StringField(validators=[DataRequired(), Length(max=40)])  # a <select> of units
    kind = SelectField(
        _l("What went wrong"),
        choices=[
            SelectChoice("code_not_working", _l("The code does not work")),
            SelectChoice("recharge_not_received", _l("The recharge never arrived")),
            SelectChoice("other", _l("Something else")),
        ],
    )
    description = StringField(_l("Tell us more"), validators=[DataRequired(), Length(max=1000)])
