"""Adding accounts: Jellyfin (password or Quick Connect), Plex (PIN), a local folder."""

from gi.repository import Adw, Gtk

from .client import MANAGER, Reeld


class AddAccountDialog(Adw.Window):
    """One page per kind; a login waits for ``LoginFinished`` and the dialog closes on success (the
    new account arrives in the sidebar by itself, through InterfacesAdded)."""

    def __init__(self, reeld: Reeld, parent: Gtk.Window) -> None:
        super().__init__(
            title="Add Account", modal=True, transient_for=parent, default_width=460, default_height=520
        )
        self.reeld = reeld
        self.login_id = ""
        self.subscription = reeld.subscribe(
            MANAGER, "LoginFinished", lambda _path, args: self._finished(*args)
        )
        self.connect("close-request", self._on_close)
        stack = Gtk.Stack(transition_type=Gtk.StackTransitionType.CROSSFADE)
        stack.add_titled(self._jellyfin_page(), "jellyfin", "Jellyfin")
        stack.add_titled(self._plex_page(), "plex", "Plex")
        stack.add_titled(self._folder_page(), "folder", "Folder")
        header = Adw.HeaderBar(title_widget=Gtk.StackSwitcher(stack=stack))
        self.message = Gtk.Label(wrap=True, margin_start=12, margin_end=12, margin_bottom=12)
        self.spinner = Gtk.Spinner()
        box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL)
        box.append(header)
        box.append(stack)
        box.append(self.spinner)
        box.append(self.message)
        self.set_content(box)

    def _page(self, *children: Gtk.Widget) -> Gtk.Widget:
        box = Gtk.Box(
            orientation=Gtk.Orientation.VERTICAL, spacing=12, margin_top=18, margin_start=12, margin_end=12
        )
        for child in children:
            box.append(child)
        return box

    def _jellyfin_page(self) -> Gtk.Widget:
        group = Adw.PreferencesGroup(description="Your Jellyfin server's address, as in your browser.")
        self.url = Adw.EntryRow(title="Server URL")
        self.user = Adw.EntryRow(title="User name")
        self.password = Adw.PasswordEntryRow(title="Password")
        for row in (self.url, self.user, self.password):
            group.add(row)
        self.login = Gtk.Button(label="Log In")
        self.login.add_css_class("suggested-action")
        self.login.connect("clicked", lambda _b: self.add_jellyfin())
        self.quick = Gtk.Button(label="Use Quick Connect")
        self.quick.connect("clicked", lambda _b: self.quick_connect())
        self.code = Gtk.Label(selectable=True)
        self.code.add_css_class("title-1")
        return self._page(group, self.login, self.quick, self.code)

    def _plex_page(self) -> Gtk.Widget:
        start = Gtk.Button(label="Sign In with Plex")
        start.add_css_class("suggested-action")
        start.connect("clicked", lambda _b: self.plex_pin())
        self.plex_code = Gtk.Label(selectable=True)
        self.plex_code.add_css_class("title-1")
        self.plex_link = Gtk.LinkButton(visible=False, label="Open plex.tv/link")
        hint = Gtk.Label(label="reeld shows a code; enter it on the page that opens.", wrap=True)
        return self._page(hint, start, self.plex_code, self.plex_link)

    def _folder_page(self) -> Gtk.Widget:
        choose = Gtk.Button(label="Choose a Folder…")
        choose.add_css_class("suggested-action")
        choose.connect("clicked", lambda _b: self.choose_folder())
        hint = Gtk.Label(label="Movies and shows in a folder on this computer or a mounted share.", wrap=True)
        return self._page(hint, choose)

    # -- the logins ---------------------------------------------------------------------------------

    def add_jellyfin(self) -> None:
        self._busy("Logging in…")
        args = (self.url.get_text().strip(), self.user.get_text().strip(), self.password.get_text())
        self.reeld.manager("AddJellyfinAccount", "sss", args, lambda _r: self.close(), self._failed)

    def quick_connect(self) -> None:
        self._busy("Asking the server for a code…")
        self.reeld.manager(
            "BeginJellyfinQuickConnect", "s", (self.url.get_text().strip(),), self._quick_code, self._failed
        )

    def _quick_code(self, reply: tuple[str, str]) -> None:
        self.login_id, code = reply
        self.code.set_label(code)
        self.message.set_label(
            "Enter this code under Quick Connect in a Jellyfin app where you are logged in."
        )

    def plex_pin(self) -> None:
        self._busy("Asking plex.tv for a code…")
        self.reeld.manager("BeginPlexLogin", "", (), self._plex_code, self._failed)

    def _plex_code(self, reply: tuple[str, str, str]) -> None:
        self.login_id, code, url = reply
        self.plex_code.set_label(code)
        self.plex_link.set_uri(url)
        self.plex_link.set_visible(True)
        self.message.set_label("Open the link, sign in and enter the code.")

    def choose_folder(self) -> None:
        chooser = Gtk.FileChooserNative(
            title="Media Folder", transient_for=self, action=Gtk.FileChooserAction.SELECT_FOLDER
        )
        chooser.connect("response", self._folder_chosen)
        chooser.show()
        self._chooser = chooser  # the native dialog lives as long as something holds it

    def _folder_chosen(self, chooser: Gtk.FileChooserNative, response: int) -> None:
        folder = chooser.get_file() if response == Gtk.ResponseType.ACCEPT else None
        if folder is not None and folder.get_path():
            self._busy("Adding the folder…")
            self.reeld.manager(
                "AddLocalFolder", "s", (folder.get_path(),), lambda _r: self.close(), self._failed
            )

    def _finished(self, login_id: str, _account: str, error: str) -> None:
        if login_id != self.login_id:
            return
        self.login_id = ""
        if error:
            self._failed("", error)
        else:
            self.close()

    def _busy(self, text: str) -> None:
        self.spinner.start()
        self.message.set_label(text)
        self.message.set_css_classes([])

    def _failed(self, _name: str, message: str) -> None:
        self.spinner.stop()
        self.message.set_label(message)
        self.message.set_css_classes(["error"])

    def _on_close(self, _window: Gtk.Window) -> bool:
        if self.login_id:  # the user gave up on a login under way
            self.reeld.manager("CancelLogin", "s", (self.login_id,))
        if self.reeld.connection is not None:
            self.reeld.connection.signal_unsubscribe(self.subscription)
        return False
