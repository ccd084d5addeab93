using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace XenIac.Hosts.Remote;

/// <summary>
/// A host reached over OpenSSH: <c>ssh://[user@]host[:port][?host=SPEC][&amp;command=PATH]</c>. <c>host=</c> is the
/// host spec on the remote (default <c>libxl</c>, its dom0); <c>command=</c> the remote <c>xen-iac</c> (default
/// <c>xen-iac</c> on the remote PATH), run by the remote's shell. Query values may be percent-encoded.
/// </summary>
public sealed record SshTarget
{
    public const string Scheme = "ssh://";

    /// <summary>The ssh command line to use instead of <c>ssh</c> (split on white space, quotes kept; no shell), like GIT_SSH_COMMAND.</summary>
    public const string CommandVariable = "XENIAC_SSH";

    public string? User { get; init; }

    public required string Host { get; init; }

    public int? Port { get; init; }

    /// <summary>The host spec on the remote; null is its libxl.</summary>
    public string? RemoteHost { get; init; }

    /// <summary>The remote command; null is <c>xen-iac</c> on the remote PATH.</summary>
    public string? Command { get; init; }

    public static bool TryParse(string text, [NotNullWhen(true)] out SshTarget? target, [NotNullWhen(false)] out string? error)
    {
        target = null;
        error = null;
        if (!text.StartsWith(Scheme, StringComparison.Ordinal))
        {
            error = $"'{text}' is not an ssh:// host";
            return false;
        }
        var rest = text[Scheme.Length..];
        if (rest.IndexOf('#', StringComparison.Ordinal) is var hash and >= 0)
        {
            // A URL's fragment has no meaning here; kept, it became part of the remote folder's name.
            error = $"ssh host '{text}': '#' has no meaning in a host spec (write %23 where a name holds one)";
            return false;
        }
        var query = "";
        var q = rest.IndexOf('?', StringComparison.Ordinal);
        if (q >= 0)
        {
            query = rest[(q + 1)..];
            rest = rest[..q];
        }
        rest = rest.TrimEnd('/');
        string? user = null;
        var at = rest.LastIndexOf('@');
        if (at >= 0)
        {
            user = Unescape(rest[..at]);
            rest = rest[(at + 1)..];
            if (user.Contains(':', StringComparison.Ordinal))
            {
                // ssh takes no password on its command line; "user:pass" went to it as a user name.
                error = $"ssh host '{text}': a password in the spec is not used (ssh authenticates with keys or an agent); write ssh://user@host";
                return false;
            }
            if (!IsSafeWord(user))
            {
                error = $"ssh host '{text}': the user name '{user}' is empty, starts with '-' or holds spaces or control characters";
                return false;
            }
        }
        string host;
        int? port = null;
        string portText = "";
        if (rest.StartsWith('['))
        {
            var close = rest.IndexOf(']', StringComparison.Ordinal);
            if (close < 0) { error = $"ssh host '{text}': an IPv6 address in [ ] is not closed"; return false; }
            host = rest[1..close];
            var after = rest[(close + 1)..];
            if (after.Length > 0 && !after.StartsWith(':')) { error = $"ssh host '{text}': unexpected '{after}' after the address"; return false; }
            portText = after.Length > 0 ? after[1..] : "";
            if (after.Length > 0 && portText.Length == 0) portText = " ";
        }
        else
        {
            var colon = rest.LastIndexOf(':');
            host = colon >= 0 ? rest[..colon] : rest;
            if (host.Contains(':', StringComparison.Ordinal))
            {
                // ssh://::1 read as host ":" and port 1.
                error = $"ssh host '{text}': an IPv6 address is written in [ ]: ssh://[{rest}] or ssh://[address]:port";
                return false;
            }
            portText = colon >= 0 ? (colon == rest.Length - 1 ? " " : rest[(colon + 1)..]) : "";
        }
        if (host.Length == 0)
        {
            error = $"ssh host '{text}' needs a host name: ssh://[user@]host[:port][?host=embedded:/path][&command=/path/to/xen-iac]";
            return false;
        }
        if (!IsSafeWord(host) || host.Contains('/'))
        {
            // A leading '-' would reach ssh as an option (ssh://-oProxyCommand=…), hence refused, not only odd.
            error = $"ssh host '{text}': '{host}' is not a host name (one that starts with '-' or holds '/', spaces or control characters); write ssh://[user@]host[:port]";
            return false;
        }
        if (portText.Length > 0)
        {
            if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var p) || p is < 1 or > 65535)
            {
                error = $"ssh host '{text}': the port '{portText.Trim()}' is not a number from 1 to 65535";
                return false;
            }
            port = p;
        }
        string? remoteHost = null, command = null;
        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            var key = eq < 0 ? pair : pair[..eq];
            var value = eq < 0 ? "" : Unescape(pair[(eq + 1)..]);
            if (value.Length == 0 || value.Any(char.IsControl))
            {
                error = $"ssh host '{text}': '{key}=' needs a value without control characters";
                return false;
            }
            // One value per setting: which of two the user meant is a guess, and a wrong guess acts on another host.
            if ((key == "host" && remoteHost is not null) || (key == "command" && command is not null))
            {
                error = $"ssh host '{text}': '{key}=' is given twice";
                return false;
            }
            switch (key)
            {
                case "host":
                    if (value.StartsWith(Scheme, StringComparison.Ordinal))
                    {
                        error = $"ssh host '{text}': host= names the host on the remote (libxl or embedded:<folder>), not another ssh host";
                        return false;
                    }
                    remoteHost = NormalizeRemote(value);
                    break;
                case "command":
                    command = value;
                    break;
                default:
                    error = $"ssh host '{text}': unknown setting '{key}' (known: host=, command=)";
                    return false;
            }
        }
        target = new SshTarget { User = user, Host = host, Port = port, RemoteHost = remoteHost, Command = command };
        return true;
    }

    /// <summary>The spec as written back: canonical order, values percent-encoded only where needed.</summary>
    public override string ToString()
    {
        var s = new StringBuilder(Scheme);
        if (User is not null) s.Append(User).Append('@');
        s.Append(Host.Contains(':') ? $"[{Host}]" : Host);
        if (Port is { } port) s.Append(':').Append(port.ToString(CultureInfo.InvariantCulture));
        var separator = '?';
        if (RemoteHost is not null) { s.Append(separator).Append("host=").Append(Escape(RemoteHost)); separator = '&'; }
        if (Command is not null) s.Append(separator).Append("command=").Append(Escape(Command));
        return s.ToString();
    }

    /// <summary>The remote command line (for the remote's shell): the tool, <c>serve --stdio</c> and the remote host, quoted.</summary>
    /// <summary>
    /// A remote embedded folder in one spelling (<c>/a/./b/</c>, <c>/a//b</c> and <c>/a/c/../b</c> are <c>/a/b</c>,
    /// by text, as a local folder is read): two spellings of one remote folder were two hosts, each with its own
    /// apply lock and its own free memory counted.
    /// </summary>
    private static string NormalizeRemote(string value)
    {
        const string Embedded = "embedded:";
        if (!value.StartsWith(Embedded + "/", StringComparison.Ordinal)) return value;
        var parts = new List<string>();
        foreach (var part in value[Embedded.Length..].Split('/'))
        {
            if (part is "" or ".") continue;
            if (part == "..") { if (parts.Count > 0) parts.RemoveAt(parts.Count - 1); continue; }
            parts.Add(part);
        }
        return Embedded + "/" + string.Join('/', parts);
    }

    public string RemoteCommandLine => $"{Command ?? "xen-iac"} serve --stdio --host {ShellQuote(RemoteHost ?? HostSpec.LibxlText)}";

    /// <summary>
    /// The ssh argv: $XENIAC_SSH (or <c>ssh</c>), BatchMode so it never prompts (a missing key or an unknown host key
    /// is an error, not a question nobody sees), no tty, keep-alives so a silent network drop ends the connection,
    /// then the destination after <c>--</c> so no host name can be read as an option.
    /// </summary>
    public IReadOnlyList<string> SshArguments(string? sshCommand)
    {
        var argv = string.IsNullOrWhiteSpace(sshCommand) ? ["ssh"] : SplitCommand(sshCommand);
        argv.AddRange(["-T", "-o", "BatchMode=yes", "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=3"]);
        if (Port is { } port) argv.AddRange(["-p", port.ToString(CultureInfo.InvariantCulture)]);
        if (User is not null) argv.AddRange(["-l", User]);
        argv.AddRange(["--", Host, RemoteCommandLine]);
        return argv;
    }

    /// <summary>Splits a command line as a POSIX shell would split plain words and quotes (no expansion, no shell).</summary>
    public static List<string> SplitCommand(string text)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        var inWord = false;
        char quote = '\0';
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (quote != '\0')
            {
                if (c == quote) quote = '\0';
                else if (c == '\\' && quote == '"' && i + 1 < text.Length && text[i + 1] is '"' or '\\') word.Append(text[++i]);
                else word.Append(c);
            }
            else if (c is '\'' or '"') { quote = c; inWord = true; }
            else if (c == '\\' && i + 1 < text.Length) { word.Append(text[++i]); inWord = true; }
            else if (char.IsWhiteSpace(c))
            {
                if (inWord) words.Add(word.ToString());
                word.Clear();
                inWord = false;
            }
            else { word.Append(c); inWord = true; }
        }
        if (quote != '\0') throw new XenHostException(XenHostError.Unavailable, $"${CommandVariable} has an unclosed {quote} quote: {text}");
        if (inWord) words.Add(word.ToString());
        if (words.Count == 0) words.Add("ssh");
        return words;
    }

    private static string ShellQuote(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    private static bool IsSafeWord(string s) => s.Length > 0 && s[0] != '-' && !s.Any(c => char.IsWhiteSpace(c) || char.IsControl(c));

    private static string Unescape(string s)
    {
        try { return Uri.UnescapeDataString(s); }
        catch (UriFormatException) { return s; }
    }

    private static string Escape(string s) =>
        string.Concat(s.Select(c => c is '&' or '%' or '#' or ' ' or '?' ? Uri.EscapeDataString(c.ToString()) : c.ToString()));
}
