"""Forms for signing in and managing an account, drawn with GOV.UK Frontend widgets.

Every form here is a Flask-WTF ``FlaskForm``, so it carries a CSRF token. Error messages follow
the GOV.UK Design System's wording: say what to do, in plain words.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovPasswordInput,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import PasswordField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp

from web.services.passwords import MIN_PASSWORD_LENGTH

NEW_PASSWORD_HINT = _l(
    "At least %(num)s characters. Three or four words you will remember work well.",
    num=MIN_PASSWORD_LENGTH,
)


class SignInForm(FlaskForm):
    email = StringField(
        _l("Email address"),
        widget=GovTextInput(),
        validators=[
            DataRequired(message=_l("Enter your email address")),
            Length(max=320, message=_l("Email address must be 320 characters or fewer")),
        ],
    )
    password = PasswordField(
        _l("Password"),
        widget=GovPasswordInput(),
        validators=[
            DataRequired(message=_l("Enter your password")),
            Length(max=256, message=_l("Password must be 256 characters or fewer")),
        ],
    )
    submit = SubmitField(_l("Sign in"), widget=GovSubmitInput())


class SecondFactorForm(FlaskForm):
    code = StringField(
        _l("Code from your authenticator app"),
        description=_l("The 6-digit code, for example 123456"),
        widget=GovTextInput(),
        validators=[
            DataRequired(message=_l("Enter the 6-digit code from your authenticator app")),
            Regexp(
                r"^\s*\d{3}\s*\d{3}\s*$",
                message=_l("The code must be 6 digits, like 123456"),
            ),
        ],
    )
    submit = SubmitField(_l("Continue"), widget=GovSubmitInput())


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        _l("Current password"),
        widget=GovPasswordInput(),
        validators=[DataRequired(message=_l("Enter your current password"))],
    )
    new_password = PasswordField(
        _l("New password"),
        description=NEW_PASSWORD_HINT,
        widget=GovPasswordInput(),
        validators=[DataRequired(message=_l("Enter a new password"))],
    )
    confirm_password = PasswordField(
        _l("Type your new password again"),
        widget=GovPasswordInput(),
        validators=[
            DataRequired(message=_l("Type your new password again")),
            EqualTo("new_password", message=_l("The two new passwords must be the same")),
        ],
    )
    submit = SubmitField(_l("Change password"), widget=GovSubmitInput())


class ForgotPasswordForm(FlaskForm):
    email = StringField(
        _l("Email address"),
        description=_l("The email address you sign in with"),
        widget=GovTextInput(),
        validators=[
            DataRequired(message=_l("Enter your email address")),
            Length(max=320, message=_l("Email address must be 320 characters or fewer")),
        ],
    )
    submit = SubmitField(_l("Send me a link"), widget=GovSubmitInput())


class NewPasswordForm(FlaskForm):
    new_password = PasswordField(
        _l("New password"),
        description=NEW_PASSWORD_HINT,
        widget=GovPasswordInput(),
        validators=[
            DataRequired(message=_l("Enter a new password")),
            Length(max=256, message=_l("Password must be 256 characters or fewer")),
        ],
    )
    confirm_password = PasswordField(
        _l("Type your new password again"),
        widget=GovPasswordInput(),
        validators=[DataRequired(message=_l("Type your new password again"))],
    )
    submit = SubmitField(_l("Set my new password"), widget=GovSubmitInput())


class NotificationSettingsForm(FlaskForm):
    # Drawn as radios by the template (account/notifications.html); the service checks it.
    channel = StringField(_l("How do you want us to tell you things?"))
    phone = StringField(
        _l("Mobile number (for texts)"),
        description=_l("A UK mobile number, like 07700 900123"),
        widget=GovTextInput(),
        validators=[Length(max=32, message=_l("Mobile number must be 32 characters or fewer"))],
    )
    postal_address = TextAreaField(
        _l("Address (for letters)"),
        description=_l("Your house and street, your town, and your postcode, each on its own line"),
        widget=GovTextArea(),
        validators=[Length(max=700, message=_l("Address must be 700 characters or fewer"))],
    )
    submit = SubmitField(_l("Save"), widget=GovSubmitInput())


class ButtonForm(FlaskForm):
    """A form that is only a button (and its CSRF token)."""

    submit = SubmitField(_l("Continue"), widget=GovSubmitInput())


class LanguageForm(FlaskForm):
    # Drawn as radios by the template (account/language.html); the service checks the code.
    language = StringField(_l("Which language do you want?"))
    submit = SubmitField(_l("Save"), widget=GovSubmitInput())
