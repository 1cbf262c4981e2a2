/* Times ListItems pages as a GNOME frontend would fetch them: GDBus from C, reading each item's
 * title and watched flag out of the reply, as a list model filling its rows does.
 *
 * Used by bench_core.py, which compiles it when a C compiler and GLib's headers are present.
 * Usage: list_items_client ADDRESS DEST PATH IFACE METHOD CALLS TOTAL_ITEMS
 *   METHOD "ListItems" sends (offset, 200, sort) at random offsets and sorts; any other method is
 *   called with no arguments (the bare floor service). Prints one duration per call, in seconds.
 */
#include <gio/gio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* What a list row needs from one item; returns how many items were read. */
static guint read_items(GVariant *reply) {
    GVariant *items = g_variant_get_child_value(reply, 0);
    GVariantIter iter;
    GVariant *item;
    guint read = 0;
    g_variant_iter_init(&iter, items);
    while ((item = g_variant_iter_next_value(&iter)) != NULL) {
        const gchar *title = NULL;
        gboolean watched = FALSE;
        g_variant_lookup(item, "title", "&s", &title);
        g_variant_lookup(item, "watched", "b", &watched);
        if (title != NULL) read++;
        g_variant_unref(item);
    }
    g_variant_unref(items);
    return read;
}

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr, "usage: %s ADDRESS DEST PATH IFACE METHOD CALLS TOTAL_ITEMS\n", argv[0]);
        return 64;
    }
    const gchar *address = argv[1], *dest = argv[2], *path = argv[3], *iface = argv[4], *method = argv[5];
    int calls = atoi(argv[6]);
    guint total = (guint)strtoul(argv[7], NULL, 10);
    static const gchar *sorts[] = {"title", "added", "year", "rating"};
    gboolean list_items = strcmp(method, "ListItems") == 0;
    GError *error = NULL;
    GDBusConnection *bus = g_dbus_connection_new_for_address_sync(
        address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
        NULL, NULL, &error);
    if (bus == NULL) {
        fprintf(stderr, "connect: %s\n", error->message);
        return 1;
    }
    srand(1);
    for (int n = 0; n < calls; n++) {
        GVariant *args = NULL;
        if (list_items) {
            guint offset = total > 200 ? (guint)(rand() % (total - 200)) : 0;
            args = g_variant_new("(uus)", offset, 200, sorts[rand() % 4]);
        }
        double started = now();
        GVariant *reply = g_dbus_connection_call_sync(bus, dest, path, iface, method, args,
                                                      G_VARIANT_TYPE("(aa{sv})"), G_DBUS_CALL_FLAGS_NONE,
                                                      10000, NULL, &error);
        if (reply == NULL) {
            fprintf(stderr, "%s: %s\n", method, error->message);
            return 1;
        }
        guint read = read_items(reply);
        double took = now() - started;
        g_variant_unref(reply);
        if (read != 200) {
            fprintf(stderr, "%s: %u items with a title, expected 200\n", method, read);
            return 1;
        }
        printf("%.6f\n", took);
    }
    g_object_unref(bus);
    return 0;
}
