using XenIac.Hosts.Remote;

namespace XenIac.Hosts.Tests.Remote;

/// <summary>How <c>ssh://</c> host text reads, what it runs, and what it refuses in one line.</summary>
public sealed class SshTargetTests
{
    [Fact]
    public void A_full_spec_reads_and_writes_back()
    {
        var spec = HostSpec.Parse("  ssh://ops@dom0-a.example:2222?host=embedded:/srv/xen&command=/opt/xen-iac/xen-iac ");
        Assert.Equal(HostKind.Ssh, spec.Kind);
        var t = spec.Ssh!;
        Assert.Equal("ops", t.User);
        Assert.Equal("dom0-a.example", t.Host);
        Assert.Equal(2222, t.Port);
        Assert.Equal("embedded:/srv/xen", t.RemoteHost);
        Assert.Equal("/opt/xen-iac/xen-iac", t.Command);
        Assert.Equal("ssh://ops@dom0-a.example:2222?host=embedded:/srv/xen&command=/opt/xen-iac/xen-iac", spec.ToString());
        Assert.Equal(spec, HostSpec.Parse(spec.ToString()));
    }

    /// <summary>Two spellings of one remote folder were two hosts: two apply locks, and its free memory counted twice.</summary>
    [Theory]
    [InlineData("ssh://h?host=embedded:/srv/./xen")]
    [InlineData("ssh://h?host=embedded:/srv/xen/")]
    [InlineData("ssh://h?host=embedded://srv//xen")]
    [InlineData("ssh://h?host=embedded:/srv/other/../xen")]
    public void Spellings_of_one_remote_folder_are_one_host(string text) =>
        Assert.Equal(HostSpec.Parse("ssh://h?host=embedded:/srv/xen"), HostSpec.Parse(text));

    [Fact]
    public void A_bare_host_is_the_remotes_libxl_through_xen_iac_on_its_path()
    {
        var t = HostSpec.Parse("ssh://dom0").Ssh!;
        Assert.Null(t.User);
        Assert.Null(t.Port);
        Assert.Equal("xen-iac serve --stdio --host 'libxl'", t.RemoteCommandLine);
        Assert.Equal(["ssh", "-T", "-o", "BatchMode=yes", "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=3", "--", "dom0",
            "xen-iac serve --stdio --host 'libxl'"], t.SshArguments(null));
    }

    [Fact]
    public void The_ssh_command_comes_from_XENIAC_SSH_split_without_a_shell_and_the_remote_spec_is_quoted()
    {
        var t = HostSpec.Parse("ssh://root@[::1]:2200?host=embedded:/srv/it's%20here&command=env%20X=8%20/usr/bin/xen-iac").Ssh!;
        var argv = t.SshArguments("ssh -F '/run/my dir/ssh_config' -i \"/k/id\" $HOME");
        Assert.Equal(["ssh", "-F", "/run/my dir/ssh_config", "-i", "/k/id", "$HOME", "-T"], argv.Take(7));
        Assert.Equal(["-p", "2200", "-l", "root", "--", "::1"], argv.Skip(13).Take(6));
        Assert.Equal("env X=8 /usr/bin/xen-iac serve --stdio --host 'embedded:/srv/it'\\''s here'", argv[^1]);
        Assert.Equal("ssh://root@[::1]:2200?host=embedded:/srv/it's%20here&command=env%20X=8%20/usr/bin/xen-iac", t.ToString());
    }

    [Theory]
    [InlineData("ssh://", "needs a host name")]
    [InlineData("ssh://-oProxyCommand=evil", "'-oProxyCommand=evil' is not a host name")]
    [InlineData("ssh://a b", "'a b' is not a host name")]
    [InlineData("ssh://user@", "needs a host name")]
    [InlineData("ssh://-l@host", "user name '-l'")]
    [InlineData("ssh://host:0", "port '0' is not a number from 1 to 65535")]
    [InlineData("ssh://host:ssh", "port 'ssh'")]
    [InlineData("ssh://host:", "port ''")]
    [InlineData("ssh://h?host=embedded:/a&host=libxl", "'host=' is given twice")]
    [InlineData("ssh://h?command=/a&command=/b", "'command=' is given twice")]
    [InlineData("ssh://host?host=embedded:relative", "absolute folder on the remote")]
    [InlineData("ssh://host?host=ssh://other", "not another ssh host")]
    [InlineData("ssh://host?mode=fast", "unknown setting 'mode'")]
    [InlineData("ssh://host?command=", "'command=' needs a value")]
    [InlineData("ssh://[::1", "not closed")]
    [InlineData("ssh://::1", "IPv6 address is written in [ ]")]
    [InlineData("ssh://fe80::1:22", "IPv6 address is written in [ ]")]
    [InlineData("ssh://ops:secret@host", "a password in the spec is not used")]
    [InlineData("ssh://host?host=embedded:/srv/a#b", "'#' has no meaning")]
    [InlineData("ssh://host#x", "'#' has no meaning")]
    public void A_bad_spec_is_one_clear_line(string text, string expected)
    {
        var e = Assert.Throws<XenHostException>(() => HostSpec.Parse(text));
        Assert.Equal(XenHostError.Unavailable, e.Error);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void A_hash_in_a_folder_name_is_written_percent_encoded_and_read_back()
    {
        var t = HostSpec.Parse("ssh://host?host=embedded:/srv/a%23b").Ssh!;
        Assert.Equal("embedded:/srv/a#b", t.RemoteHost);
        Assert.Equal(t, HostSpec.Parse(t.ToString()).Ssh);
    }

    [Fact]
    public void A_changed_host_keys_warning_stays_in_the_one_line_summary_of_ssh_stderr()
    {
        var banner = string.Join('\n',
            "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@",
            "@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @",
            "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@",
            "line 4", "line 5", "line 6", "line 7", "line 8", "line 9",
            "Host key for dom0 has changed and you have requested strict checking.",
            "Host key verification failed.", "");
        var summary = SshConnector.Summarize(banner);
        Assert.StartsWith("WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! | ", summary, StringComparison.Ordinal);
        Assert.EndsWith("| Host key verification failed.", summary, StringComparison.Ordinal);
        Assert.DoesNotContain("@@", summary, StringComparison.Ordinal);
        // Short stderr is kept whole, once.
        Assert.Equal("WARNING: x | Permission denied (publickey).", SshConnector.Summarize("WARNING: x\nPermission denied (publickey).\n"));
    }

    [Fact]
    public void An_unknown_host_names_ssh_among_the_choices()
    {
        var e = Assert.Throws<XenHostException>(() => HostSpec.Parse("xen://dom0"));
        Assert.Contains("ssh://[user@]host[:port]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Each_ssh_host_has_its_own_apply_lock()
    {
        var a = HostSpec.Parse("ssh://a").ApplyLockPath;
        Assert.NotEqual(a, HostSpec.Parse("ssh://b").ApplyLockPath);
        Assert.Equal(a, HostSpec.Parse("ssh://a").ApplyLockPath);
        Assert.NotEqual(HostSpec.Libxl.ApplyLockPath, a);
    }

    [Fact]
    public void An_unclosed_quote_in_XENIAC_SSH_is_an_error()
    {
        var e = Assert.Throws<XenHostException>(() => SshTarget.SplitCommand("ssh -F 'x"));
        Assert.Contains("XENIAC_SSH", e.Message, StringComparison.Ordinal);
    }
}
