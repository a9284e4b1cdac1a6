"""The mall's forms (Flask-WTF: each carries its CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, StringField
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
