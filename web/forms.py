"""Forms for signing in and managing an account, drawn with GOV.UK Frontend widgets.

Every form here is a Flask-WTF ``FlaskForm``, so it carries a CSRF token. Error messages follow
the GOV.UK Design System's wording: say what to do, in plain words.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovPasswordInput, GovSubmitInput, GovTextInput
from wtforms import PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp


class SignInForm(FlaskForm):
    email = StringField(
        "Email address",
        widget=GovTextInput(),
        validators=[
            DataRequired(message="Enter your email address"),
            Length(max=320, message="Email address must be 320 characters or fewer"),
        ],
    )
    password = PasswordField(
        "Password",
        widget=GovPasswordInput(),
        validators=[
            DataRequired(message="Enter your password"),
            Length(max=256, message="Password must be 256 characters or fewer"),
        ],
    )
    submit = SubmitField("Sign in", widget=GovSubmitInput())


class SecondFactorForm(FlaskForm):
    code = StringField(
        "Code from your authenticator app",
        description="The 6-digit code, for example 123456",
        widget=GovTextInput(),
        validators=[
            DataRequired(message="Enter the 6-digit code from your authenticator app"),
            Regexp(
                r"^\s*\d{3}\s*\d{3}\s*$",
                message="The code must be 6 digits, like 123456",
            ),
        ],
    )
    submit = SubmitField("Continue", widget=GovSubmitInput())


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        "Current password",
        widget=GovPasswordInput(),
        validators=[DataRequired(message="Enter your current password")],
    )
    new_password = PasswordField(
        "New password",
        description="At least 10 characters. A few words you will remember works well.",
        widget=GovPasswordInput(),
        validators=[DataRequired(message="Enter a new password")],
    )
    confirm_password = PasswordField(
        "Type your new password again",
        widget=GovPasswordInput(),
        validators=[
            DataRequired(message="Type your new password again"),
            EqualTo("new_password", message="The two new passwords must be the same"),
        ],
    )
    submit = SubmitField("Change password", widget=GovSubmitInput())
